"""HTTP hardening, in embedded mode (issue #14, its Low findings): each test is an attack that
used to work and now fails.

- The organiser's sign-in: the cookie holds a session id, not the token, and sign-out, expiry
  or a revoked token end the session on the server; a sign-in form sent by another site
  (login CSRF) is refused; behind the TLS ingress and the gateway the cookie is Secure;
  failed sign-ins and refused bearer tokens are throttled per client address.
- Security headers on every response: a Content-Security-Policy that lets a page load only
  its own origin's scripts and styles and be framed by nobody, nosniff, no Referer (manage
  tokens and ticket keys travel in URLs); the API docs page's one exception is its own inline
  script, by digest. (The dashboard keeping no token in the browser's storage:
  tests/e2e/test_dashboard_page.py.)
- Requests anyone can send answer 4xx problem+json (or the page they asked for), never a 500:
  pathological JSON to every JSON route of the three OpenAPI documents, query arguments named
  like url_for's own or like a path's, NUL characters.
- Metrics answer on this machine only, or to their bearer token.
"""

import base64
import hashlib
import re

import pytest
import requests
from sqlalchemy import select, update
from werkzeug.test import Client

from services.registration.models import OrganiserSession
from shared.auth import revoke_token, token_digest
from tests.integration.gateway import address, nginx_gateway
from tests.integration.hostile_requests import (
    BEARERS,
    PROBLEM_JSON,
    assert_problem,
    changes,
    settle,
)
from tests.support import ORGANISER_TOKEN, embedded_loopgate, sign_in

SESSION_COOKIE = "loopgate_organiser"
SIGN_IN_COOKIE = "loopgate_sign_in"
SERVICES = ("registration", "ticketing", "checkin")


def signed_in(base_url: str) -> requests.Session:
    browser = requests.Session()
    answer = sign_in(browser, base_url, ORGANISER_TOKEN)
    assert answer.status_code == 303, answer.text
    return browser


def csrf_of(browser: requests.Session, url: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', browser.get(url, timeout=30).text)[1]


def organisers_page(browser: requests.Session, base_url: str) -> requests.Response:
    return browser.get(base_url + "/organiser/", allow_redirects=False, timeout=30)


def stored_sessions(system) -> list[OrganiserSession]:
    with system.runtimes["registration"].session_factory() as session:
        return list(session.scalars(select(OrganiserSession)))


# --- the organiser's sign-in ----------------------------------------------------------------


def test_the_cookie_holds_a_session_id_whose_digest_alone_is_stored(embedded):
    browser = signed_in(embedded.base_url)

    session_id = browser.cookies.get(SESSION_COOKIE, path="/")
    assert session_id and ORGANISER_TOKEN not in session_id
    [stored] = stored_sessions(embedded.system)
    assert stored.id_sha256 == token_digest(session_id)
    assert stored.token_sha256 == token_digest(ORGANISER_TOKEN)
    assert organisers_page(browser, embedded.base_url).status_code == 200


def test_after_sign_out_a_copy_of_the_old_cookie_is_refused(embedded):
    browser = signed_in(embedded.base_url)
    stolen = requests.Session()
    stolen.cookies.set(SESSION_COOKIE, browser.cookies[SESSION_COOKIE], path="/")
    assert organisers_page(stolen, embedded.base_url).status_code == 200

    csrf = csrf_of(browser, embedded.base_url + "/organiser/")
    signed_out = browser.post(
        embedded.url("/organiser/logout"), data={"csrf": csrf}, allow_redirects=False, timeout=30
    )

    assert signed_out.status_code == 303
    refused = organisers_page(stolen, embedded.base_url)
    assert refused.status_code == 303
    assert refused.headers["Location"].startswith("/organiser/login")
    assert stored_sessions(embedded.system) == []


def test_an_expired_session_or_one_of_a_revoked_token_is_refused(embedded):
    expired, revoked = signed_in(embedded.base_url), signed_in(embedded.base_url)
    runtime = embedded.system.runtimes["registration"]
    with runtime.session_factory() as session:
        session.execute(
            update(OrganiserSession)
            .where(OrganiserSession.id_sha256 == token_digest(expired.cookies[SESSION_COOKIE]))
            .values(expires_at=OrganiserSession.created_at)
        )
        session.commit()
    assert organisers_page(expired, embedded.base_url).status_code == 303

    assert organisers_page(revoked, embedded.base_url).status_code == 200
    with runtime.session_factory() as session:
        revoke_token(session, runtime.tables.tokens, token_digest(ORGANISER_TOKEN))
        session.commit()
    assert organisers_page(revoked, embedded.base_url).status_code == 303


@pytest.mark.parametrize(
    "cookie, field, headers",
    [
        # What another site's form sends: the browser holds back our SameSite=Strict cookie.
        pytest.param(None, None, {"Origin": "https://evil.example"}, id="cross-site-form"),
        pytest.param(None, "guessed", {"Sec-Fetch-Site": "cross-site"}, id="field-without-cookie"),
        pytest.param("ours", None, {}, id="cookie-without-field"),
        pytest.param("ours", "another", {}, id="field-not-the-cookie"),
    ],
)
def test_a_sign_in_without_the_forms_csrf_token_is_refused(embedded, cookie, field, headers):
    """Login CSRF: another site signing the browser in as the attacker's organiser."""
    browser = requests.Session()
    if cookie:
        browser.cookies.set(SIGN_IN_COOKIE, cookie, path="/organiser/login")
    form = {"token": ORGANISER_TOKEN} | ({"csrf": field} if field else {})
    answer = browser.post(
        embedded.url("/organiser/login"),
        data=form,
        headers=headers,
        allow_redirects=False,
        timeout=30,
    )

    assert answer.status_code == 400
    assert "The sign-in form had expired" in answer.text
    assert SESSION_COOKIE not in answer.cookies
    assert stored_sessions(embedded.system) == []


def test_the_sign_in_forms_cookie_is_http_only_and_strict(embedded):
    answer = requests.get(embedded.url("/organiser/login"), timeout=30)
    cookie = answer.headers["Set-Cookie"]
    for flag in ("HttpOnly", "SameSite=Strict", "Path=/organiser/login"):
        assert flag in cookie, cookie


def test_behind_the_tls_ingress_and_the_gateway_the_cookies_are_secure_and_limits_per_client(
    tmp_path,
):
    """The ingress ends TLS and says so in X-Forwarded-Proto; the gateway, trusting it, passes
    the client's scheme and address on, so the cookies are Secure (the host is no loopback
    address) and each client is limited by its own address, not the ingress's."""
    with (
        embedded_loopgate(
            tmp_path, rate_limit="20/minute", LOOPGATE_TRUSTED_PROXY_HOPS="1"
        ) as site,
        nginx_gateway(
            tmp_path / "gateway",
            {name: address(site.base_url) for name in SERVICES},
            LOOPGATE_GATEWAY_TRUSTED_PROXY_HOPS="1",
        ) as gateway,
    ):

        def from_ingress(client_address: str) -> requests.Session:
            browser = requests.Session()
            browser.headers.update(
                {
                    "Host": "tickets.example.org",
                    "X-Forwarded-Proto": "https",
                    "X-Forwarded-For": client_address,
                }
            )
            return browser

        browser = from_ingress("203.0.113.9")
        signed = sign_in(browser, gateway, ORGANISER_TOKEN)
        assert signed.status_code == 303, signed.text
        assert "Secure" in signed.headers["Set-Cookie"]
        assert "Secure" in browser.get(gateway + "/organiser/login").headers["Set-Cookie"]

        guesser = from_ingress("198.51.100.7")
        for attempt in range(11):
            sign_in(guesser, gateway, f"guess-{attempt}")
        assert sign_in(guesser, gateway, ORGANISER_TOKEN).status_code == 429
        assert sign_in(from_ingress("203.0.113.9"), gateway, "typo").status_code == 401


def test_failed_sign_ins_are_throttled_per_client_address(tmp_path):
    with embedded_loopgate(tmp_path, rate_limit="20/minute") as site:
        browser = requests.Session()
        answers = [sign_in(browser, site.base_url, f"guess-{n}") for n in range(11)]
        # Now the right token is refused as well: a guesser learns nothing until the wait ends.
        right = sign_in(browser, site.base_url, ORGANISER_TOKEN)
        api = site.get("/api/registration/organisation/events", headers=site.organiser)

    assert [answer.status_code for answer in answers] == [401] * 10 + [429]
    for limited in (answers[-1], right):
        assert limited.status_code == 429
        assert "Too many failed sign-ins from your address" in limited.text
        assert int(limited.headers["Retry-After"]) > 0
        assert SESSION_COOKIE not in limited.cookies
    assert api.status_code == 200, "a script's working token is not refused for the guesses"


def test_refused_bearer_tokens_are_throttled_per_client_address(tmp_path):
    with embedded_loopgate(tmp_path, rate_limit="20/minute") as site:
        event_id = site.create_event()
        stats = f"/api/checkin/events/{event_id}/stats"
        guesses = [
            site.get(stats, headers={"Authorization": BEARERS["unknown"]}) for _ in range(11)
        ]
        right = site.get(stats, headers=site.organiser)

    assert [guess.status_code for guess in guesses] == [401] * 10 + [429]
    body = assert_problem(guesses[-1], 429)
    assert body["type"] == "urn:loopgate:problem:rate-limited"
    assert "Too many failed sign-ins or refused tokens" in body["detail"]
    assert int(guesses[-1].headers["Retry-After"]) > 0
    # Door devices behind one venue NAT share an address with whoever guesses there.
    # (404: check-in has not heard of the draft event; the token itself was accepted)
    assert right.status_code == 404, "a working token is never refused for others' guesses"


# --- security headers -----------------------------------------------------------------------

DOCS = [f"/api/{service}/docs" for service in SERVICES]
PAGES = [
    "/",
    "/events/{event}",
    "/registrations/{reg_a}?token={token_a}",
    "/organiser/login",
    "/organiser/",
    "/organiser/events/{event}",
    "/api/checkin/scanner",
    "/api/checkin/dashboard?event={event}",
    "/api/checkin/static/scanner.js",
    "/static/site.css",
    "/there-is-no-such-page",
    *DOCS,
]
OTHER_RESPONSES = [
    "/api/registration/openapi.json",
    "/api/registration/events/{event}",
    "/api/checkin/events/{event}/stats",
    "/api/ticketing/registrations/{reg_a}/ticket?token=wrong",
    "/api/ticketing/tickets/{ticket_a}/qr.svg?key={key_a}",
]
SELF_CONTAINED_PAGES = [
    "/api/ticketing/pages/registrations/{reg_a}/ticket?token={token_a}",
    "/api/ticketing/mailbox",
]


@pytest.fixture(scope="module")
def organiser_browser(loopgate) -> requests.Session:
    return signed_in(loopgate.base_url)


def directives(policy: str) -> dict[str, list[str]]:
    return {
        name: sources
        for name, *sources in (part.split() for part in policy.split(";") if part.strip())
    }


@pytest.mark.parametrize("path", PAGES + OTHER_RESPONSES + SELF_CONTAINED_PAGES)
def test_every_response_forbids_framing_sniffing_referrers_and_foreign_content(
    loopgate, world, organiser_browser, path
):
    response = organiser_browser.get(loopgate.url(path.format(**world.ids)), timeout=30)

    assert response.status_code < 500, response.text
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    policy = directives(response.headers["Content-Security-Policy"])
    assert policy["default-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    for name in ("script-src", "style-src", "img-src", "connect-src", "form-action"):
        for source in policy.get(name, []):
            # Nothing from elsewhere; the ticket page allows inline styles and data: images.
            assert source in ("'self'", "'none'", "data:", "'unsafe-inline'") or (
                name == "script-src" and source.startswith("'sha256-")
            ), f"{name} {source}"
    assert "'unsafe-inline'" not in policy.get("script-src", [])


@pytest.mark.parametrize("path", SELF_CONTAINED_PAGES)
def test_the_ticket_and_mailbox_pages_keep_their_stricter_policy(loopgate, world, path):
    response = loopgate.get(path.format(**world.ids))
    policy = directives(response.headers["Content-Security-Policy"])
    assert "script-src" not in policy  # default-src 'none': no script at all
    assert policy["form-action"] == ["'none'"]


@pytest.mark.parametrize("path", DOCS)
def test_the_api_docs_may_run_their_own_inline_script_and_no_other(loopgate, path):
    response = loopgate.get(path)
    [script] = re.findall(r"<script>(.*?)</script>", response.text, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    policy = directives(response.headers["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'", f"'sha256-{digest}'"]


# --- requests anyone can send ---------------------------------------------------------------

DEEP = 1000
PATHOLOGICAL_JSON = {
    "arrays-1000-deep": "[" * DEEP + "]" * DEEP,
    "objects-1000-deep": '{"a": ' * DEEP + "1" + "}" * DEEP,
    "a-field-1000-deep": '{"title": ' + "[" * DEEP + "]" * DEEP + "}",
    "mixed-33-deep": '{"a": [' * 16 + '{"b": 1}' + "]}" * 16,
    "integer-5000-digits": '{"quota": 1' + "0" * 5000 + "}",
    "float-overflow": '{"quota": 1e999}',
    "nan": '{"quota": NaN}',
    "infinity": '{"quota": Infinity}',
    "minus-infinity": '{"quota": -Infinity}',
    "invalid-utf8": b'{"title": "\xff\xfe"}',
    "overlong-utf8": b'{"title": "\xc0\xaf"}',
    "truncated-utf8": b'{"title": "\xe6\x97"}',
    "byte-order-mark": b'\xef\xbb\xbf{"title": "x"}',
    "lone-high-surrogate": '{"title": "x\\ud800"}',
    "lone-low-surrogate": '{"title": "\\udfffx"}',
    "nul": '{"title": "a\\u0000b"}',
    "duplicate-keys": '{"title": "a", "title": "b"}',
}
# The world's object for each path argument of the OpenAPI documents.
PATH_IDS = {
    "event_id": "event",
    "registration_id": "reg_a",
    "ticket_type_id": "ticket_type",
    "session_id": "session",
    "question_id": "question",
    "list_id": "default_list",
    "device_id": "device",
    "ticket_id": "ticket_a",
}


def operations(api):
    """(method, path with the world's ids as placeholders, operation) of the three documents."""
    for service in SERVICES:
        document = api.get(f"/api/{service}/openapi.json").json()
        for path, methods in document["paths"].items():
            for method, operation in methods.items():
                if isinstance(operation, dict) and "responses" in operation:
                    yield method.upper(), _with_world_ids(path), operation


def _with_world_ids(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda match: "{" + PATH_IDS.get(match[1], "unknown") + "}", path)


def test_pathological_json_to_every_json_route_is_a_400_problem(loopgate, world):
    json_routes = [
        (method, path)
        for method, path, operation in operations(loopgate)
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    ]
    assert len(json_routes) >= 15, json_routes
    before = settle(loopgate.system)
    wrong = []
    for method, path in json_routes:
        for name, body in PATHOLOGICAL_JSON.items():
            response = loopgate.http.request(
                method,
                loopgate.url(path.format(**world.ids)),
                data=body,
                params={"token": world.ids["token_a"]},
                headers={"Content-Type": "application/json", "Authorization": BEARERS["organiser"]},
                timeout=30,
            )
            try:
                assert_problem(response, 400)
            except AssertionError as error:
                wrong.append(f"{method} {path} {name}: {error}")
    assert wrong == []
    assert changes(before, settle(loopgate.system)) == []


@pytest.mark.parametrize(
    "method, path",
    [
        ("PATCH", "/api/registration/registrations/{reg_a}?token={token_a}"),
        ("POST", "/api/registration/events/{event}/registrations"),
        ("POST", "/api/checkin/scans"),
        ("POST", "/api/checkin/scans/batch"),
    ],
)
def test_json_nested_a_thousand_levels_deep_is_refused_before_any_work(
    loopgate, world, method, path
):
    for body in (PATHOLOGICAL_JSON["arrays-1000-deep"], PATHOLOGICAL_JSON["objects-1000-deep"]):
        response = loopgate.http.request(
            method,
            loopgate.url(path.format(**world.ids)),
            data=body,
            headers={"Content-Type": "application/json", "Authorization": BEARERS["organiser"]},
            timeout=30,
        )
        body = assert_problem(response, 400)
        assert body["detail"] == "Invalid JSON body: nested deeper than 32 levels."


# Query arguments named like url_for's own arguments, or like the page's path arguments.
HOSTILE_QUERY = {
    "endpoint": "x",
    "_method": "POST",
    "_external": "1",
    "_anchor": "x",
    "_scheme": "javascript",
    "event_id": "x",
    "registration_id": "x",
    "ticket_id": "x",
    "filename": "x",
}


@pytest.mark.parametrize(
    "path",
    [
        "/?endpoint=x",
        "/?_method=POST",
        "/events/{event}?event_id=x",
        "/registrations/{reg_a}?token={token_a}&registration_id=x",
        "/api/ticketing/pages/tickets/{ticket_a}?key={key_a}&ticket_id=x&endpoint=x",
        "/api/ticketing/pages/tickets/{unknown}?key=x&_method=POST",
    ],
)
def test_query_arguments_named_like_url_fors_get_the_page_asked_for(loopgate, world, path):
    response = loopgate.get(path.format(**world.ids), headers={"Accept": "text/html"})
    assert response.status_code in (200, 404), response.text
    assert response.headers["Content-Type"].startswith("text/html")


def test_hostile_query_arguments_to_every_page_and_get_route_are_no_500(
    loopgate, world, organiser_browser
):
    paths = (
        PAGES
        + SELF_CONTAINED_PAGES
        + [path for method, path, _ in operations(loopgate) if method == "GET"]
    )
    wrong = []
    for path in paths:
        url, _, query = loopgate.url(path.format(**world.ids)).partition("?")
        with organiser_browser.get(
            url,
            params=HOSTILE_QUERY | dict(re.findall(r"(\w+)=([^&]*)", query)) | {"max_seconds": "1"},
            headers={"Authorization": BEARERS["organiser"]},
            stream=True,  # the live stats stream
            timeout=30,
        ) as response:
            if response.status_code >= 500:
                wrong.append(f"{path}: {response.status_code} {response.text[:300]}")
    assert wrong == []


@pytest.mark.parametrize(
    "path, data",
    [
        pytest.param("/api/checkin/events/{event}/tickets?q=a%00b", None, id="query"),
        pytest.param("/organiser/events/{event}?q=%00", None, id="page-query"),
        pytest.param("/events/{event}", "name=a%00b&email=a%40example.com", id="form"),
    ],
)
def test_a_nul_character_in_a_query_or_form_is_a_400(loopgate, world, path, data):
    """PostgreSQL stores no NUL in text: it would have failed there, with a 500."""
    method = "POST" if data else "GET"
    response = loopgate.http.request(
        method,
        loopgate.url(path.format(**world.ids)),
        data=data,
        headers={
            "Authorization": BEARERS["organiser"],
            "Content-Type": "application/x-www-form-urlencoded",
        },
        timeout=30,
    )
    assert_problem(response, 400)


# --- metrics --------------------------------------------------------------------------------

METRICS = ["/metrics", *(f"/api/{service}/metrics" for service in SERVICES)]


@pytest.mark.parametrize("path", METRICS)
def test_without_a_metrics_token_metrics_answer_on_this_machine_only(loopgate, path):
    assert "loopgate_http_request_seconds" in loopgate.get(path).text
    from_elsewhere = Client(loopgate.system.app).get(
        path, environ_base={"REMOTE_ADDR": "203.0.113.5"}
    )
    assert from_elsewhere.status_code == 403
    assert from_elsewhere.headers["Content-Type"] == PROBLEM_JSON
    assert "loopgate_" not in from_elsewhere.get_data(as_text=True)


@pytest.mark.parametrize(
    "peer, forwarded_for, status",
    [
        ("127.0.0.1", "127.0.0.1", 200),  # through the gateway of `make distributed`, here
        ("127.0.0.1", "192.0.2.8", 403),  # through the same gateway, from the LAN
        ("203.0.113.5", "127.0.0.1", 403),  # straight to a service, claiming to be here
        ("203.0.113.5", "unknown", 403),
    ],
)
def test_behind_a_proxy_metrics_answer_only_when_client_and_peer_are_this_machine(
    tmp_path, peer, forwarded_for, status
):
    with embedded_loopgate(tmp_path, LOOPGATE_TRUSTED_PROXY_HOPS="1") as site:
        scrape = Client(site.system.app).get(
            "/api/checkin/metrics",
            headers={"X-Forwarded-For": forwarded_for},
            environ_base={"REMOTE_ADDR": peer},
        )
    assert scrape.status_code == status


def test_with_a_metrics_token_metrics_answer_to_it_alone(tmp_path):
    with embedded_loopgate(tmp_path, LOOPGATE_METRICS_TOKEN="scraper-secret") as site:
        for path in METRICS:
            for bearer in (None, "Bearer wrong", BEARERS["organiser"]):
                headers = {"Authorization": bearer} if bearer else {}
                refused = site.get(path, headers=headers)
                assert_problem(refused, 401)
                assert refused.headers["WWW-Authenticate"] == "Bearer"
            scraped = site.get(path, headers={"Authorization": "Bearer scraper-secret"})
            assert "loopgate_http_request_seconds" in scraped.text
