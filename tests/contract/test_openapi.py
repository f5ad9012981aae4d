"""Each service documents its HTTP API as valid OpenAPI (DESIGN.md, "HTTP"), the documentation
covers the core flow, the docs page works without any other site, and real answers match
what the documentation promises."""

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from openapi_spec_validator import validate

from services.system import SERVICES

# DESIGN.md "Core flow": every route outside checks use, with its method.
CORE_FLOW_ROUTES = [
    ("registration", "post", "/api/registration/events"),
    ("registration", "post", "/api/registration/events/{id}/ticket-types"),
    ("registration", "post", "/api/registration/events/{id}/publish"),
    ("registration", "post", "/api/registration/events/{id}/registrations"),
    ("registration", "get", "/api/registration/events/{id}/registrations"),
    ("registration", "get", "/api/registration/registrations/{id}"),
    ("registration", "post", "/api/registration/registrations/{id}/cancel"),
    ("ticketing", "get", "/api/ticketing/registrations/{registration_id}/ticket"),
    ("ticketing", "get", "/api/ticketing/keys"),
    ("checkin", "post", "/api/checkin/scans"),
]


def openapi(flow, service: str) -> dict:
    response = flow.get(f"/api/{service}/openapi.json")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json()


def path_shape(path: str) -> str:
    """A path with its parameter names blanked: /events/{id} and /events/{event_id} match."""
    return re.sub(r"\{[^}]+\}", "{}", path)


def documented_operations(spec: dict) -> set[tuple[str, str]]:
    methods = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
    return {
        (method, path_shape(path))
        for path, item in spec["paths"].items()
        for method in item
        if method in methods
    }


def resolve(spec: dict, node):
    """`node` with every local $ref replaced by what it points to."""
    if isinstance(node, dict):
        if "$ref" in node:
            target = spec
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return resolve(spec, target)
        return {key: resolve(spec, value) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(spec, item) for item in node]
    return node


def response_schema(spec: dict, method: str, shape: str, status: str) -> dict:
    for path, item in spec["paths"].items():
        if path_shape(path) == shape and method in item:
            response = resolve(spec, item[method]["responses"][status])
            return response["content"]["application/json"]["schema"]
    raise AssertionError(f"{method.upper()} {shape} is not documented")


def assert_matches(schema: dict, value, where: str = "$") -> None:
    """The JSON `value` has only documented keys, of the documented types, and enum values
    the documentation lists (a small OpenAPI 3.0 schema check: type, properties, items,
    enum, nullable)."""
    if value is None:
        assert schema.get("nullable") or "type" not in schema, f"{where} is null"
        return
    kinds = {
        "object": dict,
        "array": list,
        "string": str,
        "integer": int,
        "number": (int, float),
        "boolean": bool,
    }
    if "type" in schema:
        assert isinstance(value, kinds[schema["type"]]), f"{where}: {value!r} not {schema['type']}"
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} not one of {schema['enum']}"
    if isinstance(value, dict) and "properties" in schema:
        undocumented = set(value) - set(schema["properties"])
        assert not undocumented, f"{where}: undocumented keys {sorted(undocumented)}"
        for key, item in value.items():
            assert_matches(schema["properties"][key], item, f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            assert_matches(schema["items"], item, f"{where}[{index}]")


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_publishes_a_valid_openapi_document(embedded, service):
    spec = openapi(embedded, service)
    validate(spec)
    assert spec["openapi"].startswith("3.")
    assert all(path.startswith(f"/api/{service}/") for path in spec["paths"])


def test_every_route_of_the_core_flow_is_documented_with_its_method(embedded):
    documented = {
        service: documented_operations(openapi(embedded, service)) for service in SERVICES
    }
    missing = [
        f"{method.upper()} {path}"
        for service, method, path in CORE_FLOW_ROUTES
        if (method, path_shape(path)) not in documented[service]
    ]
    assert not missing, f"undocumented core-flow routes: {missing}"


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_documents_and_answers_its_health_checks(embedded, service):
    documented = documented_operations(openapi(embedded, service))
    for check in ("healthz", "readyz"):
        path = f"/api/{service}/{check}"
        assert ("get", path) in documented, path
        response = embedded.get(path)
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith("application/json")


class _Assets(HTMLParser):
    """The URLs a page loads: scripts, stylesheets, images, and any other href."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name in ("src", "href"):
            if attributes.get(name):
                self.urls.append(attributes[name])


@pytest.mark.parametrize("service", SERVICES)
def test_the_docs_page_works_with_assets_served_by_the_service_itself(embedded, service):
    page_url = embedded.url(f"/api/{service}/docs")
    page = embedded.get(f"/api/{service}/docs")
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")

    html = page.text
    parser = _Assets()
    parser.feed(html)
    assert parser.urls, "the docs page loads no assets"
    assert not re.search(r"""["'(]\s*(https?:)?//""", html), "the docs page names another site"

    for url in parser.urls:
        absolute = urljoin(page_url, url)
        assert urlsplit(absolute).netloc == urlsplit(page_url).netloc, url
        asset = embedded.http.get(absolute, timeout=30)
        assert asset.status_code == 200, url
        assert asset.content, url
        if url.endswith(".js"):
            assert "javascript" in asset.headers["Content-Type"], url
        if url.endswith(".css"):
            assert asset.headers["Content-Type"].startswith("text/css"), url

    # The page reads this service's own OpenAPI document.
    assert f"/api/{service}/openapi.json" in html


def test_real_answers_of_the_core_flow_match_the_documented_responses(embedded):
    registration_spec = openapi(embedded, "registration")
    ticketing_spec = openapi(embedded, "ticketing")
    checkin_spec = openapi(embedded, "checkin")

    event_id, ticket_type_id = embedded.published_event(quota=1)
    created = embedded.register(event_id, ticket_type_id, name="陳大文")
    assert created.status_code == 201
    waitlisted = embedded.registered(event_id, ticket_type_id)
    schema = response_schema(
        registration_spec, "post", "/api/registration/events/{}/registrations", "201"
    )
    assert_matches(schema, created.json())
    assert_matches(schema, waitlisted)
    assert {"id", "status", "manage_token"} <= set(created.json())

    ticket = embedded.wait_for_ticket(created.json())
    assert_matches(
        response_schema(ticketing_spec, "get", "/api/ticketing/registrations/{}/ticket", "200"),
        ticket,
    )
    assert {"id", "status", "payload", "qr_png_url", "qr_svg_url"} <= set(ticket)

    embedded.wait_until_in_roster(ticket["id"])
    scan_schema = response_schema(checkin_spec, "post", "/api/checkin/scans", "200")
    first = embedded.scan(ticket["payload"])
    again = embedded.scan(ticket["payload"])
    forged = embedded.scan("LG1:NOT-A-TICKET")
    assert [first["verdict"], again["verdict"], forged["verdict"]] == [
        "ok",
        "already_checked_in",
        "invalid",
    ]
    for answer in (first, again, forged):
        assert_matches(scan_schema, answer)
    assert {"verdict", "ticket", "previous"} <= set(again)

    keys = embedded.get("/api/ticketing/keys", headers=embedded.organiser)
    assert_matches(
        response_schema(ticketing_spec, "get", "/api/ticketing/keys", "200"), keys.json()
    )

    registration = embedded.get(
        f"/api/registration/registrations/{waitlisted['id']}",
        params={"token": waitlisted["manage_token"]},
    )
    assert_matches(
        response_schema(registration_spec, "get", "/api/registration/registrations/{}", "200"),
        registration.json(),
    )


def test_documented_error_responses_describe_the_problem_json_the_service_answers(embedded):
    spec = openapi(embedded, "checkin")
    operation = spec["paths"]["/api/checkin/scans"]["post"]
    invalid = embedded.post("/api/checkin/scans", json={"payload": "x"}, headers=embedded.organiser)
    assert invalid.status_code == 422
    assert invalid.headers["Content-Type"].startswith("application/problem+json")

    documented = resolve(spec, operation["responses"]["422"])["content"]
    assert "application/problem+json" in documented
    assert_matches(documented["application/problem+json"]["schema"], invalid.json())
