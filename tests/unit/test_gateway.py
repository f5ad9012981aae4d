"""The gateway against real HTTP: tiny echo upstreams, the gateway served in a thread, requests."""

import json
import socket
import threading
import time

import pytest
import requests
from werkzeug.serving import make_server

from services.gateway import create_app

ECHOED_HEADERS = (
    "Authorization",
    "Idempotency-Key",
    "Accept",
    "Content-Type",
    "Host",
    "X-Forwarded-For",
    "X-Forwarded-Proto",
    "X-Forwarded-Host",
    "X-Forwarded-Port",
    "Forwarded",
)


def echo_app(name):
    """An upstream that answers with what it received, as JSON."""

    def app(environ, start_response):
        path = environ["PATH_INFO"]
        if path.endswith("/slow"):
            time.sleep(1.5)
        if path.endswith("/broken"):
            # A service's own 502 is already a problem and must reach the client unchanged.
            body = json.dumps({"type": "urn:loopgate:problem:upstream", "status": 502}).encode()
            start_response("502 Bad Gateway", [("Content-Type", "application/problem+json")])
            return [body]
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


class Served:
    """A WSGI app on 127.0.0.1 on a free port, in a thread."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        # A short poll interval keeps shutdown() (which waits for the next poll) quick.
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def serve():
    started = []

    def start(app):
        served = Served(app)
        started.append(served)
        return served

    yield start
    for served in reversed(started):
        served.stop()


@pytest.fixture
def upstreams(serve):
    return {name: serve(echo_app(name)).url for name in ("registration", "ticketing", "checkin")}


def gateway_environ(upstreams, **extra):
    environ = {f"LOOPGATE_{name.upper()}_UPSTREAM": url for name, url in upstreams.items()}
    environ.update(extra)
    return environ


@pytest.fixture
def gateway(serve, upstreams):
    return serve(create_app(gateway_environ(upstreams))).url


@pytest.fixture
def http():
    # No proxy from the environment between the test and 127.0.0.1.
    with requests.Session() as session:
        session.trust_env = False
        yield session


def dead_url():
    """A URL on which nothing listens: a port the OS just handed out and took back."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize(
    ("path", "upstream"),
    [
        ("/api/registration/events", "registration"),
        ("/api/ticketing/keys", "ticketing"),
        ("/api/checkin/scans/batch", "checkin"),
        ("/api/checkin", "checkin"),
        ("/", "registration"),
        ("/e/spring-showcase", "registration"),
        ("/api/unknown/thing", "registration"),
        ("/api/checkinx", "registration"),
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
    # werkzeug's proxy on its own would re-quote the decoded path: é twice encoded, %2F a slash.
    path = "/api/ticketing/caf%C3%A9/a%2Fb/100%25"

    echo = http.get(gateway + path).json()

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

    host = gateway.removeprefix("http://")
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
            "Forwarded": "for=203.0.113.7",
        },
    ).json()

    assert echo["headers"]["X-Forwarded-For"] == "127.0.0.1"
    assert echo["headers"]["X-Forwarded-Proto"] == "http"
    assert echo["headers"]["X-Forwarded-Host"] == gateway.removeprefix("http://")
    assert echo["headers"]["X-Forwarded-Port"] is None
    assert echo["headers"]["Forwarded"] is None


def test_behind_a_trusted_proxy_passes_on_the_clients_scheme_address_and_host(
    http, serve, upstreams
):
    """Behind the TLS ingress: the client's https, not the plain http the ingress speaks to the
    gateway, reaches the services (their cookies stay Secure), and so does its address."""
    trusted = gateway_environ(upstreams, LOOPGATE_GATEWAY_TRUSTED_PROXY_HOPS="1")
    gateway = serve(create_app(trusted)).url
    echo = http.get(
        gateway + "/organiser/login",
        headers={
            # What the client sent the ingress (a spoofed hop first), then what it added.
            "X-Forwarded-For": "192.0.2.66, 203.0.113.7",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "tickets.example.org",
        },
    ).json()

    assert echo["headers"]["X-Forwarded-For"] == "203.0.113.7"
    assert echo["headers"]["X-Forwarded-Proto"] == "https"
    assert echo["headers"]["X-Forwarded-Host"] == "tickets.example.org"
    assert echo["headers"]["Host"] == "tickets.example.org"


def test_rejects_trusted_proxy_hops_that_are_not_a_whole_number():
    with pytest.raises(ValueError, match="LOOPGATE_GATEWAY_TRUSTED_PROXY_HOPS"):
        create_app({"LOOPGATE_GATEWAY_TRUSTED_PROXY_HOPS": "yes"})


def test_unreachable_upstream_is_a_problem_502(http, serve, upstreams):
    gateway = serve(create_app(gateway_environ(upstreams, LOOPGATE_TICKETING_UPSTREAM=dead_url())))

    response = http.get(gateway.url + "/api/ticketing/keys")

    assert response.status_code == 502
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "urn:loopgate:problem:bad-gateway"
    assert problem["title"] == "Bad Gateway"
    assert problem["status"] == 502
    assert "ticketing" in problem["detail"]
    # The other services are still reachable through the same gateway.
    assert http.get(gateway.url + "/api/checkin/healthz").status_code == 200


def test_silent_upstream_is_a_problem_502_after_the_timeout(http, serve, upstreams):
    environ = gateway_environ(upstreams, LOOPGATE_GATEWAY_TIMEOUT_SECONDS="0.3")
    gateway = serve(create_app(environ))

    started = time.monotonic()
    response = http.get(gateway.url + "/api/checkin/slow")

    assert response.status_code == 502
    assert response.json()["type"] == "urn:loopgate:problem:bad-gateway"
    assert time.monotonic() - started < 1.4


def test_an_upstream_problem_502_passes_through(http, gateway):
    response = http.get(gateway + "/api/registration/broken")

    assert response.status_code == 502
    assert response.json()["type"] == "urn:loopgate:problem:upstream"


def test_rejects_an_upstream_that_is_not_a_plain_http_url():
    with pytest.raises(ValueError, match="LOOPGATE_CHECKIN_UPSTREAM"):
        create_app({"LOOPGATE_CHECKIN_UPSTREAM": "127.0.0.1:8103"})
