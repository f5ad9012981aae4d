"""The gateway: one public port in front of the services in distributed mode.

Embedded mode serves all services behind one port from one process; in distributed mode
each service runs under its own gunicorn, and this gateway puts them back behind one port by
path prefix, so clients, tests and the public pages see the same URLs in both modes. It is a
plain WSGI app run by gunicorn, the same code natively (`make distributed`) and in
docker-compose, so there is no second routing config (nginx or the like) to keep in step.

The forwarding itself is werkzeug's ProxyMiddleware; this module only chooses the upstream,
sets the X-Forwarded-* headers as the first hop, and turns an unreachable upstream into a
problem+json 502. Behind a proxy of its own (the Kubernetes Ingress, which ends TLS),
LOOPGATE_GATEWAY_TRUSTED_PROXY_HOPS says how many to trust: the client's address, scheme and
host then come from their X-Forwarded-* headers (werkzeug's ProxyFix), so the services see
an https request as https and limit each client by its own address.

Which services there are, their default upstreams and the one that serves every other path,
the caller says: services/gateway.py, the app gunicorn runs.
"""

import json
import logging
import os
from collections.abc import Iterable, Mapping
from http.client import HTTPException
from urllib.parse import quote, urlsplit

from werkzeug.middleware.http_proxy import ProxyMiddleware
from werkzeug.middleware.proxy_fix import ProxyFix

from shared.settings import SettingsError

log = logging.getLogger(__name__)

# Per socket operation (connect, send, each read), not per request: a slow CSV export that
# keeps sending is fine, an upstream that says nothing for this long is not.
DEFAULT_TIMEOUT_SECONDS = 30

# What the client may not tell the services about itself: the gateway is the first hop, so any
# forwarding header that arrives here was written by the client and is replaced or dropped.
CLIENT_FORWARDING_HEADERS = (
    "HTTP_FORWARDED",
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_X_FORWARDED_PREFIX",
)

BAD_GATEWAY_TYPE = "urn:loopgate:problem:bad-gateway"
# The characters ProxyMiddleware leaves unquoted in a path, minus "%": a decoded path has no
# percent-escapes left, so a "%" in it is a literal one and must be sent as %25.
_PATH_SAFE = "!$&'()*+,/:;=@"


def create_app(
    default_upstreams: Mapping[str, str],
    default_service: str,
    environ: Mapping[str, str] = os.environ,
) -> "Gateway | ProxyFix":
    """The gateway to the services named in `default_upstreams` (each one's upstream, unless
    LOOPGATE_<SERVICE>_UPSTREAM says another); paths outside /api/<service>/ go to
    `default_service`."""
    upstreams = {
        service: environ.get(f"LOOPGATE_{service.upper()}_UPSTREAM") or default
        for service, default in default_upstreams.items()
    }
    timeout = environ.get("LOOPGATE_GATEWAY_TIMEOUT_SECONDS") or DEFAULT_TIMEOUT_SECONDS
    try:
        timeout = float(timeout)
    except ValueError:
        raise SettingsError(
            f"LOOPGATE_GATEWAY_TIMEOUT_SECONDS must be a number, not {timeout!r}"
        ) from None
    gateway = Gateway(upstreams, default_service, timeout=timeout)
    hops = _trusted_proxy_hops(environ.get("LOOPGATE_GATEWAY_TRUSTED_PROXY_HOPS") or "0")
    if not hops:
        return gateway
    return ProxyFix(gateway, x_for=hops, x_proto=hops, x_host=hops)


def _trusted_proxy_hops(value: str) -> int:
    if not value.isdigit():
        raise SettingsError(
            f"LOOPGATE_GATEWAY_TRUSTED_PROXY_HOPS must be a whole number, not {value!r}"
        )
    return int(value)


class Gateway:
    def __init__(
        self,
        upstreams: Mapping[str, str],
        default_service: str,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ):
        for service, upstream in upstreams.items():
            _check_upstream(service, upstream)
        self._services = tuple(upstreams)
        self._default_service = default_service
        # The gateway picks the target itself (see __call__), so the middleware's own
        # app is never reached; it is built for its per-target defaults and its timeout.
        # host=None keeps the client's Host header, so links the services build point at
        # the public address even if they ignore X-Forwarded-Host.
        targets = {
            _prefix(service): {"target": upstream, "host": None}
            for service, upstream in upstreams.items()
        }
        self._proxy = ProxyMiddleware(_unrouted, targets, timeout=timeout)

    def __call__(self, environ: dict, start_response) -> Iterable[bytes]:
        service = self.service_for(environ.get("PATH_INFO", ""))
        prefix = _prefix(service)
        forward = self._proxy.proxy_to(self._proxy.targets[prefix], _request_path(environ), prefix)

        # ProxyMiddleware answers an unreachable upstream with its own HTML 502. Hold the status
        # back: any 502 that is not already a problem (a service's own) becomes ours.
        held = []

        def hold_start_response(status, headers, exc_info=None):
            held[:] = [(status, headers, exc_info)]
            return _no_write

        try:
            body = forward(_forwarded_environ(environ), hold_start_response)
        except (OSError, HTTPException) as error:
            # ProxyMiddleware only catches OSError; a garbled response raises HTTPException.
            log.warning("gateway: %s upstream failed: %r", service, error)
            return _bad_gateway(service, start_response)

        status, headers, exc_info = held[0]
        if status.startswith("502") and not _is_problem(headers):
            log.warning("gateway: %s upstream unreachable or answered a bare 502", service)
            _close(body)
            return _bad_gateway(service, start_response)
        start_response(status, headers, exc_info)
        return body

    def service_for(self, path: str) -> str:
        """The service whose prefix the (decoded) path is under; the default one otherwise."""
        for service in self._services:
            prefix = f"/api/{service}"
            if path == prefix or path.startswith(prefix + "/"):
                return service
        return self._default_service


def _prefix(service: str) -> str:
    return f"/api/{service}/"


def _check_upstream(service: str, url: str) -> None:
    parts = urlsplit(url)
    # ProxyMiddleware sends the request's own path and ignores any path on the target.
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise SettingsError(
            f"LOOPGATE_{service.upper()}_UPSTREAM must look like http://host:port, not {url!r}"
        )


def _request_path(environ: Mapping) -> str:
    """The path to send upstream, percent-encoded exactly as the client sent it.

    ProxyMiddleware would quote the decoded PATH_INFO again, which garbles non-ASCII paths
    (PATH_INFO is latin-1 text) and turns %2F into a real slash. gunicorn and werkzeug's server
    both keep the request line's target in RAW_URI, so that is sent as is when present.
    """
    raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or ""
    if raw_uri and not raw_uri.startswith("/"):  # absolute-form: GET http://host/path
        raw_uri = urlsplit(raw_uri).path
    raw_path = raw_uri.partition("?")[0]
    if raw_path.startswith("/"):
        return quote(raw_path.encode("latin-1"), safe=_PATH_SAFE + "%")
    decoded = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    return quote(decoded.encode("latin-1"), safe=_PATH_SAFE) or "/"


def _forwarded_environ(environ: dict) -> dict:
    """A copy of the request's environ carrying the X-Forwarded-* headers of the first hop.

    The services trust exactly one proxy (werkzeug ProxyFix), so the values must be the
    gateway's own view of the client: a client-sent X-Forwarded-For is replaced, not appended to.
    (Behind trusted proxies, ProxyFix has already put their view of the client in the environ.)
    """
    forwarded = {k: v for k, v in environ.items() if k not in CLIENT_FORWARDING_HEADERS}
    host = environ.get("HTTP_HOST") or _server_host(environ)
    forwarded["HTTP_HOST"] = host  # ProxyMiddleware reads it for host=None
    forwarded["HTTP_X_FORWARDED_FOR"] = environ.get("REMOTE_ADDR") or "unknown"
    forwarded["HTTP_X_FORWARDED_PROTO"] = environ.get("wsgi.url_scheme", "http")
    forwarded["HTTP_X_FORWARDED_HOST"] = host
    return forwarded


def _server_host(environ: Mapping) -> str:
    # An HTTP/1.0 request may come without a Host header.
    name, port = environ.get("SERVER_NAME", "localhost"), str(environ.get("SERVER_PORT", ""))
    default_port = "443" if environ.get("wsgi.url_scheme") == "https" else "80"
    return name if port in ("", default_port) else f"{name}:{port}"


def _is_problem(headers: list[tuple[str, str]]) -> bool:
    return any(
        name.lower() == "content-type" and value.startswith("application/problem+json")
        for name, value in headers
    )


def _bad_gateway(service: str, start_response) -> list[bytes]:
    body = json.dumps(
        {
            "type": BAD_GATEWAY_TYPE,
            "title": "Bad Gateway",
            "status": 502,
            "detail": f"The {service} service could not be reached. Try again shortly.",
        }
    ).encode()
    start_response(
        "502 Bad Gateway",
        [("Content-Type", "application/problem+json"), ("Content-Length", str(len(body)))],
    )
    return [body]


def _close(body: Iterable[bytes]) -> None:
    close = getattr(body, "close", None)
    if close is not None:
        close()


def _no_write(data: bytes) -> None:
    raise RuntimeError("the gateway streams bodies through the iterable, not write()")


def _unrouted(environ, start_response):
    raise RuntimeError("the gateway routes every request itself")
