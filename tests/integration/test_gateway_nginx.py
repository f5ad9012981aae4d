"""The gateway against real HTTP: nginx started by the Procfile's own line with the config of
deploy/nginx/, in front of tiny echo upstreams served in threads. Skips (fails when
integration tests are required) without nginx; `make system-packages` installs it."""

import itertools
import json
import os
import re
import socket
import subprocess
import sys
import time
from contextlib import ExitStack

import pytest
import requests

from tests.integration.distributed import ROOT
from tests.integration.gateway import address, nginx_gateway
from tests.support import ServedApp, free_ports

SERVICES = ("registration", "ticketing", "checkin")
ECHOED_HEADERS = (
    "Authorization",
    "Idempotency-Key",
    "Accept",
    "Host",
    "X-Forwarded-For",
    "X-Forwarded-Proto",
    "X-Forwarded-Host",
    "X-Forwarded-Port",
    "X-Forwarded-Prefix",
    "Forwarded",
)
PROBLEM_JSON = "application/problem+json"


def echo_app(name):
    """An upstream that answers with what it received, as JSON."""

    def app(environ, start_response):
        path = environ["PATH_INFO"]
        if path.endswith("/slow"):
            time.sleep(2)
        if path.endswith("/broken"):
            # A service's own 502 is already a problem and must reach the client unchanged.
            body = json.dumps({"type": "urn:loopgate:problem:upstream", "status": 502}).encode()
            start_response("502 Bad Gateway", [("Content-Type", PROBLEM_JSON)])
            return [body]
        if path.endswith("/stream"):
            # As check-in's live stats: nginx must pass each event on as it comes.
            start_response(
                "200 OK", [("Content-Type", "text/event-stream"), ("X-Accel-Buffering", "no")]
            )
            return _events()
        if path.endswith("/bare"):
            start_response("200 OK", [])
            return [b"no type"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        headers = {
            name: environ.get("HTTP_" + name.upper().replace("-", "_")) for name in ECHOED_HEADERS
        }
        headers["Content-Type"] = environ.get("CONTENT_TYPE") or None
        echo = {
            "upstream": name,
            "method": environ["REQUEST_METHOD"],
            "raw_uri": environ.get("RAW_URI"),
            "path": path,
            "query": environ["QUERY_STRING"],
            "body": environ["wsgi.input"].read(length).decode(),
            "headers": headers,
        }
        body = json.dumps(echo).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("X-Upstream", name)])
        return [body]

    return app


def _events():
    yield b"data: first\n\n"
    time.sleep(1.5)
    yield b"data: second\n\n"


@pytest.fixture(scope="module")
def upstreams():
    with ExitStack() as stack:
        yield {
            name: address(stack.enter_context(ServedApp(echo_app(name))).url) for name in SERVICES
        }


@pytest.fixture(scope="module")
def gateway(upstreams, tmp_path_factory):
    with nginx_gateway(tmp_path_factory.mktemp("gateway"), upstreams) as url:
        yield url


@pytest.fixture
def own_gateway(upstreams, tmp_path):
    """A gateway of the test's own, with LOOPGATE_* settings over the echo upstreams."""
    numbers = itertools.count()
    with ExitStack() as stack:

        def start(**environ: str) -> str:
            data_dir = tmp_path / f"gateway-{next(numbers)}"
            return stack.enter_context(nginx_gateway(data_dir, upstreams, **environ))

        yield start


@pytest.fixture
def http():
    # No proxy from the environment between the test and 127.0.0.1.
    with requests.Session() as session:
        session.trust_env = False
        yield session


def dead_address() -> str:
    """host:port on which nothing listens: a port the OS just handed out and took back."""
    return f"127.0.0.1:{free_ports(1)[0]}"


def assert_problem(response: requests.Response, status: int, type_: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["type"] == type_
    assert problem["status"] == status
    return problem


@pytest.mark.parametrize(
    ("path", "upstream"),
    [
        ("/api/registration/events", "registration"),
        ("/api/ticketing/keys", "ticketing"),
        ("/api/checkin/scans/batch", "checkin"),
        ("/api/checkin", "checkin"),
        ("/", "registration"),
        ("/e/spring-showcase", "registration"),
        ("/organiser/login", "registration"),
        ("/metrics", "registration"),
        # Matching no service's prefix: registration's, which answers its own 404.
        ("/api/unknown/thing", "registration"),
        ("/api/checkinx", "registration"),
        ("/API/checkin/scans", "registration"),
    ],
)
def test_routes_by_prefix_and_keeps_the_full_path(http, gateway, path, upstream):
    response = http.get(gateway + path)

    assert response.status_code == 200
    echo = response.json()
    assert echo["upstream"] == upstream
    assert echo["path"] == path


def test_keeps_the_query_string_as_sent(http, gateway):
    response = http.get(gateway + "/api/registration/registrations/r1?token=a%2Bb&x=1&x=2")

    echo = response.json()
    assert echo["path"] == "/api/registration/registrations/r1"
    assert echo["query"] == "token=a%2Bb&x=1&x=2"


def test_keeps_percent_encoding_in_the_path(http, gateway):
    path = "/api/ticketing/caf%C3%A9/a%2Fb/100%25"

    echo = http.get(gateway + path).json()

    assert echo["upstream"] == "ticketing"
    assert echo["raw_uri"] == path
    assert echo["path"] == "/api/ticketing/café/a/b/100%".encode().decode("latin-1")


def test_passes_method_body_and_headers(http, gateway):
    response = http.post(
        gateway + "/api/registration/events/e1/registrations",
        data=json.dumps({"attendee": {"name": "Ada"}}),
        headers={
            "Authorization": "Bearer organiser-token",
            "Idempotency-Key": "key-1",
            "Accept": "text/csv",
            "Content-Type": "application/json",
        },
    )

    echo = response.json()
    assert echo["method"] == "POST"
    assert json.loads(echo["body"]) == {"attendee": {"name": "Ada"}}
    assert echo["headers"]["Authorization"] == "Bearer organiser-token"
    assert echo["headers"]["Idempotency-Key"] == "key-1"
    assert echo["headers"]["Accept"] == "text/csv"
    assert echo["headers"]["Content-Type"] == "application/json"
    assert response.headers["X-Upstream"] == "registration"


def test_passes_other_methods(http, gateway):
    for method in ("PUT", "PATCH", "DELETE"):
        echo = http.request(method, gateway + "/api/checkin/lists/l1", data="x").json()
        assert echo["method"] == method
        assert echo["body"] == "x"


def test_sets_forwarded_headers_from_its_own_view_of_the_client(http, gateway):
    echo = http.get(gateway + "/api/checkin/healthz").json()

    host = address(gateway)
    assert echo["headers"]["X-Forwarded-For"] == "127.0.0.1"
    assert echo["headers"]["X-Forwarded-Proto"] == "http"
    assert echo["headers"]["X-Forwarded-Host"] == host
    assert echo["headers"]["Host"] == host


def test_replaces_forwarding_headers_the_client_sent(http, gateway):
    echo = http.get(
        gateway + "/api/registration/events",
        headers={
            "X-Forwarded-For": "203.0.113.7",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "evil.example",
            "X-Forwarded-Port": "443",
            "X-Forwarded-Prefix": "/evil",
            "Forwarded": "for=203.0.113.7",
        },
    ).json()

    assert echo["headers"]["X-Forwarded-For"] == "127.0.0.1"
    assert echo["headers"]["X-Forwarded-Proto"] == "http"
    assert echo["headers"]["X-Forwarded-Host"] == address(gateway)
    assert echo["headers"]["X-Forwarded-Port"] is None
    assert echo["headers"]["X-Forwarded-Prefix"] is None
    assert echo["headers"]["Forwarded"] is None


def test_behind_a_trusted_proxy_passes_on_the_clients_scheme_address_and_host(http, own_gateway):
    """Behind a TLS terminator: the client's https, not the plain http the terminator speaks to
    the gateway, reaches the services (their cookies stay Secure), and so does its address."""
    gateway = own_gateway(LOOPGATE_GATEWAY_TRUSTED_PROXY_HOPS="1")
    echo = http.get(
        gateway + "/organiser/login",
        headers={
            # What the client sent the terminator (a spoofed hop first), then what it added.
            "X-Forwarded-For": "192.0.2.66, 203.0.113.7",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "tickets.example.org",
        },
    ).json()

    assert echo["headers"]["X-Forwarded-For"] == "203.0.113.7"
    assert echo["headers"]["X-Forwarded-Proto"] == "https"
    assert echo["headers"]["X-Forwarded-Host"] == "tickets.example.org"
    assert echo["headers"]["Host"] == "tickets.example.org"


def test_behind_two_trusted_proxies_takes_the_second_value_from_the_right(http, own_gateway):
    gateway = own_gateway(LOOPGATE_GATEWAY_TRUSTED_PROXY_HOPS="2")
    echo = http.get(
        gateway + "/api/checkin/healthz",
        headers={
            "X-Forwarded-For": "192.0.2.66,203.0.113.7 , 198.51.100.1",
            # Fewer values than trusted proxies: nginx's own view, as ProxyFix does.
            "X-Forwarded-Proto": "https",
        },
    ).json()

    assert echo["headers"]["X-Forwarded-For"] == "203.0.113.7"
    assert echo["headers"]["X-Forwarded-Proto"] == "http"
    assert echo["headers"]["X-Forwarded-Host"] == address(gateway)


def test_unreachable_upstream_is_a_problem_502(http, own_gateway):
    gateway = own_gateway(LOOPGATE_TICKETING_UPSTREAM=dead_address())

    response = http.get(gateway + "/api/ticketing/keys")

    problem = assert_problem(response, 502, "urn:loopgate:problem:bad-gateway")
    assert problem["title"] == "Bad Gateway"
    assert "ticketing" in problem["detail"]
    # The other services are still reachable through the same gateway.
    assert http.get(gateway + "/api/checkin/healthz").status_code == 200


def test_unreachable_default_upstream_names_registration(http, own_gateway):
    gateway = own_gateway(LOOPGATE_REGISTRATION_UPSTREAM=dead_address())

    problem = assert_problem(http.get(gateway + "/e/x"), 502, "urn:loopgate:problem:bad-gateway")
    assert "registration" in problem["detail"]


def test_silent_upstream_is_a_problem_504_after_the_timeout(http, own_gateway):
    gateway = own_gateway(LOOPGATE_GATEWAY_TIMEOUT_SECONDS="1")

    started = time.monotonic()
    response = http.get(gateway + "/api/checkin/slow")

    problem = assert_problem(response, 504, "urn:loopgate:problem:gateway-timeout")
    assert "checkin" in problem["detail"]
    assert time.monotonic() - started < 1.9


def test_an_upstream_problem_502_passes_through(http, gateway):
    response = http.get(gateway + "/api/registration/broken")

    assert_problem(response, 502, "urn:loopgate:problem:upstream")


def test_an_upstream_answer_without_a_type_gets_none(http, gateway):
    response = http.get(gateway + "/api/checkin/bare")

    assert response.text == "no type"
    assert "Content-Type" not in response.headers


def test_a_body_over_two_mib_is_a_problem_413_and_never_reaches_a_service(http, gateway):
    response = http.post(gateway + "/api/checkin/scans/batch", data=b"x" * (3 * 1024 * 1024))

    problem = assert_problem(response, 413, "urn:loopgate:problem:payload-too-large")
    assert "2 MiB" in problem["detail"]


def test_a_body_under_two_mib_reaches_the_service_which_has_its_own_limit(http, gateway):
    body = "x" * (1536 * 1024)

    echo = http.post(gateway + "/api/checkin/scans/batch", data=body).json()

    assert echo["body"] == body


def test_a_request_nginx_cannot_read_is_a_problem_400(gateway):
    with socket.create_connection(("127.0.0.1", int(gateway.rsplit(":", 1)[1])), 5) as sock:
        sock.sendall(b"NOT AN HTTP REQUEST\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"\r\nContent-Type: application/problem+json" in head
    assert json.loads(body)["type"] == "urn:loopgate:problem:bad-request"


def test_a_request_line_too_long_is_a_problem_414(http, gateway):
    response = http.get(gateway + "/api/checkin/" + "x" * 10_000)

    assert_problem(response, 414, "urn:loopgate:problem:uri-too-long")


def test_its_own_error_pages_are_not_reachable_from_outside(http, gateway):
    response = http.post(gateway + "/.gateway/bad-request")

    assert_problem(response, 404, "urn:loopgate:problem:not-found")


def test_a_stream_passes_each_event_on_as_it_comes(http, gateway):
    started = time.monotonic()
    with http.get(gateway + "/api/checkin/events/e1/stream", stream=True, timeout=10) as stream:
        first = next(stream.iter_lines())
        arrived = time.monotonic() - started

    assert first == b"data: first"
    assert arrived < 1.0  # the second event comes 1.5 s later


def render(prefix, **environ: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, ROOT / "deploy/nginx/render.py", prefix],
        env={**os.environ, **environ},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("LOOPGATE_GATEWAY_TRUSTED_PROXY_HOPS", "yes"),
        ("LOOPGATE_GATEWAY_TIMEOUT_SECONDS", "0.3"),
        ("LOOPGATE_CHECKIN_UPSTREAM", "http://127.0.0.1:8103"),
        ("LOOPGATE_PORT", "80; include /etc/passwd"),
        ("LOOPGATE_HOST", "0.0.0.0:1 default_server"),
    ],
)
def test_the_config_step_refuses_what_nginx_would_misread(tmp_path, setting, value):
    rendered = render(tmp_path / "gateway", **{setting: value})

    assert rendered.returncode == 2
    assert setting in rendered.stderr
    assert not (tmp_path / "gateway").exists()


def test_the_template_names_only_its_own_settings_and_nginx_variables():
    """The official image fills the template in with envsubst, which replaces $NAME and
    ${NAME} of every variable in its environment (HOSTNAME, PATH...): the template's own
    values are ${LOOPGATE_*}, and everything else is an nginx variable, lower case."""
    template = (ROOT / "deploy/nginx/loopgate.conf.template").read_text()
    dollars = re.findall(r"\$(\{?)([A-Za-z_]\w*)", template)

    assert dollars
    for brace, name in dollars:
        assert (brace and name.startswith("LOOPGATE_")) or (not brace and name.islower()), name
