"""What every service's Flask app has: OpenAPI, problem+json errors, auth, health checks,
security headers."""

import base64
import hashlib
import logging
import math
import re
import time
from collections.abc import Callable, Mapping
from functools import wraps
from http import HTTPStatus
from ipaddress import ip_address
from urllib.parse import urlencode

import flask_smorest
import limits
import swagger_ui_bundle
from flask import (
    Flask,
    Response,
    current_app,
    g,
    json,
    make_response,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import gettext
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_smorest import Api
from flask_smorest.utils import resolve_schema_instance
from kombu import Connection
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy.exc import OperationalError
from webargs import core as webargs_core
from webargs.flaskparser import FlaskParser, is_json_request
from webargs.flaskparser import abort as webargs_abort
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from shared.auth import Principal, authenticate, secrets_equal, token_digest
from shared.db import database_reachable
from shared.errors import DomainError
from shared.identity import is_access_token, read_access_token
from shared.logs import (
    configure_logging,
    current_correlation_id,
    new_correlation_id,
    set_correlation_id,
)
from shared.metrics import HTTP_REQUEST_SECONDS, metrics_text
from shared.runtime import ServiceDefinition, ServiceRuntime
from shared.schemas import ProblemSchema
from shared.settings import Settings
from shared.strict_json import read_json

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
MAX_BODY_BYTES = 1024 * 1024

_SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    429: "rate-limited",
    500: "internal-error",
    503: "unavailable",
}


def problem(status: int, detail: str | None = None, slug: str | None = None, **extra) -> Response:
    body = problem_body(status, detail, slug, **extra)
    return Response(body, status=status, mimetype=PROBLEM_JSON)


def problem_body(status: int, detail: str | None = None, slug: str | None = None, **extra) -> bytes:
    """An RFC 9457 problem as JSON, for an app's answer or a server's own refusal."""
    body = {
        "type": f"urn:loopgate:problem:{slug or _SLUGS.get(status, 'error')}",
        "title": HTTPStatus(status).phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    body.update(extra)
    return json.dumps(body).encode()


# Every response may use only what its own origin serves, and nobody may frame it: the ticket
# page's rule, with the origin's own scripts, styles and API allowed. A page that needs less
# (the ticket page) sets a stricter policy itself; the API docs page gets its one exception.
_POLICY = {
    "default_src": "'none'",
    "script_src": "'self'",
    "style_src": "'self'",
    "img_src": "'self'",
    "connect_src": "'self'",
    "form_action": "'self'",
    "base_uri": "'none'",
    "frame_ancestors": "'none'",
}


def content_security_policy(**exceptions: str) -> str:
    """The policy, with the sources of some directives replaced (img_src="'self' data:")."""
    directives = {**_POLICY, **exceptions}
    return "; ".join(f"{name.replace('_', '-')} {sources}" for name, sources in directives.items())


SECURITY_HEADERS = {
    "Content-Security-Policy": content_security_policy(),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Manage tokens and ticket keys travel in URLs: no page hands its URL to the next one.
    "Referrer-Policy": "no-referrer",
}

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def _script_digest(script: str) -> str:
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    return f"'sha256-{digest}'"


def _add_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


class JsonBodyParser(FlaskParser):
    """webargs' parser, reading JSON bodies with shared.strict_json: a body nested too deep,
    with NaN or oversized numbers or a key twice is a 400 saying so, before the view runs."""

    def _raw_load_json(self, req):
        if not is_json_request(req):
            return webargs_core.missing
        return read_json(req.get_data(cache=True))

    def _handle_invalid_json_error(self, error, req, *args, **kwargs):
        reason = f"Invalid JSON body: {error.msg}."
        webargs_abort(400, exc=error, message=reason, messages={"json": [reason]})


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint, building each argument schema once: given a class, webargs
    would build a new schema for every request, which costs more than the parsing."""

    ARGUMENTS_PARSER = JsonBodyParser()

    def arguments(self, schema, **kwargs):
        return super().arguments(resolve_schema_instance(schema), **kwargs)


class ProblemApi(Api):
    """flask-smorest's Api answering, and documenting, every HTTP error as RFC 9457
    problem+json."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self):
        # The error responses flask-smorest documents take their content type from this
        # attribute; success responses are documented elsewhere and stay application/json.
        success_type = self.DEFAULT_RESPONSE_CONTENT_TYPE
        self.DEFAULT_RESPONSE_CONTENT_TYPE = PROBLEM_JSON
        try:
            super()._register_responses()
        finally:
            self.DEFAULT_RESPONSE_CONTENT_TYPE = success_type

    def _openapi_swagger_ui(self):
        # flask-smorest's docs page starts Swagger UI with an inline script: that script
        # alone (by its digest) may run besides the bundled assets, whose stylesheet draws
        # its icons as data: images.
        page = super()._openapi_swagger_ui()
        response = make_response(page)
        scripts = " ".join(_script_digest(script) for script in _INLINE_SCRIPT.findall(page))
        response.headers["Content-Security-Policy"] = content_security_policy(
            script_src=f"'self' {scripts}", img_src="'self' data:"
        )
        return response

    def handle_http_exception(self, error: HTTPException):
        data = getattr(error, "data", None) or {}
        extra = {}
        errors = data.get("errors") or data.get("messages")
        if errors:
            extra["errors"] = errors
        detail = data.get("message") or error.description
        response = problem(error.code, detail, **extra)
        for name, value in (data.get("headers") or {}).items():
            response.headers[name] = value
        if error.code == 405 and hasattr(error, "valid_methods") and error.valid_methods:
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response


def create_service_app(
    definition: ServiceDefinition,
    blueprints: list[Blueprint],
    import_name: str,
    settings: Settings | None = None,
    runtime: ServiceRuntime | None = None,
) -> Flask:
    """A service's HTTP app from its definition: the one bootstrap every service's app.py
    calls (on a runtime of its own unless given one, as embedded mode shares them)."""
    runtime = runtime or ServiceRuntime(definition, settings or Settings.from_env())
    name = runtime.name
    configure_logging(name, json_lines=not runtime.settings.is_embedded)
    app = Flask(import_name)
    app.config.update(
        API_TITLE=f"Loopgate {name}",
        API_VERSION="1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX=f"/api/{name}",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL=f"/api/{name}/docs/assets/",
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
    )
    # Answers keep the order their schemas give, and no response pays for sorting.
    app.json.sort_keys = False
    app.extensions["loopgate"] = runtime
    app.extensions[FAILED_AUTHENTICATIONS] = FailedAuthentications(
        AUTHENTICATION_FAILURES_RATE if runtime.settings.rate_limit else None
    )
    api = ProblemApi(
        app,
        spec_kwargs={
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}}
        },
    )
    for blueprint in [*blueprints, _health_blueprint(name)]:
        api.register_blueprint(blueprint, url_prefix=f"/api/{name}")
    app.add_url_rule(
        f"/api/{name}/docs/assets/<path:filename>",
        "swagger_ui_assets",
        lambda filename: send_from_directory(swagger_ui_bundle.swagger_ui_path, filename),
    )
    app.before_request(_take_correlation_id)
    app.after_request(_return_correlation_id)
    app.before_request(_start_timer)
    app.after_request(_observe_latency)
    app.before_request(_refuse_oversized_body)
    app.before_request(_refuse_nul_characters)
    app.after_request(_add_security_headers)
    for path in ("/metrics", f"/api/{name}/metrics"):
        app.add_url_rule(path, f"metrics{path.count('/')}", _metrics)
    app.register_error_handler(DomainError, _domain_error)
    app.register_error_handler(OperationalError, _database_unavailable)
    app.register_error_handler(Exception, _unexpected_error)
    if runtime.settings.trusted_proxy_hops:
        app.wsgi_app = ProxyFix(
            app.wsgi_app,
            x_for=runtime.settings.trusted_proxy_hops,
            x_proto=runtime.settings.trusted_proxy_hops,
            x_host=runtime.settings.trusted_proxy_hops,
        )
    return app


def _start_timer():
    g.request_started = time.perf_counter()


def _observe_latency(response: Response) -> Response:
    started = g.pop("request_started", None)
    if started is not None:
        HTTP_REQUEST_SECONDS.labels(
            current_runtime().name,
            request.method,
            request.url_rule.rule if request.url_rule else "unmatched",
            str(response.status_code),
        ).observe(time.perf_counter() - started)
    return response


CORRELATION_HEADER = "X-Correlation-ID"


def _take_correlation_id():
    given = request.headers.get(CORRELATION_HEADER, "")
    # Only a short plain id is taken from outside; anything else gets a fresh one.
    usable = given if 0 < len(given) <= 64 and given.replace("-", "").isalnum() else None
    set_correlation_id(usable or new_correlation_id())


def _return_correlation_id(response: Response) -> Response:
    response.headers[CORRELATION_HEADER] = current_correlation_id() or ""
    return response


def _refuse_oversized_body():
    # MAX_CONTENT_LENGTH only bites when a view reads the body; a view that ignores it must
    # not act on an oversized request either.
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return problem(413, f"The body is larger than {MAX_BODY_BYTES} bytes.")
    return None


def _refuse_nul_characters():
    # PostgreSQL stores no NUL in text: a query or form carrying one would fail there, with a
    # 500, once the work had begun. (JSON bodies are read by shared.strict_json.)
    form = request.mimetype == "application/x-www-form-urlencoded"
    if b"%00" in request.query_string or (form and b"%00" in request.get_data()):
        return problem(400, "The request holds a NUL character (%00).")
    return None


def _metrics() -> Response:
    refusal = _metrics_refusal()
    if refusal is not None:
        return refusal
    body, content_type = metrics_text(current_runtime())
    return Response(body, content_type=content_type)


def _metrics_refusal() -> Response | None:
    """Metrics tell volumes and verdicts: with LOOPGATE_METRICS_TOKEN set they need it as the
    bearer token; without it they answer on this machine only (`make run`, `make
    distributed`), and a scraper elsewhere needs the token."""
    expected = current_runtime().settings.metrics_token
    if expected is None:
        if _from_this_machine():
            return None
        return problem(
            403, "Metrics answer on this machine only, unless LOOPGATE_METRICS_TOKEN is set."
        )
    too_many = too_many_failures()
    if too_many is not None:
        return too_many
    if secrets_equal(expected, bearer_token()):
        return None
    failed_authentications().record()
    response = problem(401, "The metrics need their bearer token (LOOPGATE_METRICS_TOKEN).")
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


def _from_this_machine() -> bool:
    # The client a trusted proxy named, and the connection's own peer: someone who reaches a
    # service directly cannot pass for this machine by sending X-Forwarded-For: 127.0.0.1.
    peer = request.environ.get("werkzeug.proxy_fix.orig", {}).get("REMOTE_ADDR")
    return all(_loopback(address) for address in (request.remote_addr, peer or request.remote_addr))


def _loopback(address: str | None) -> bool:
    try:
        return ip_address(address or "").is_loopback
    except ValueError:  # a proxy's "unknown"
        return False


def _database_unavailable(error: OperationalError) -> Response:
    # The database is restarting or unreachable: nothing was changed, and the same request
    # (with the same Idempotency-Key) can simply be sent again.
    log.warning("database unavailable on %s %s: %s", request.method, request.path, error.orig)
    response = problem(503, "The service is briefly unavailable; please retry.")
    response.headers["Retry-After"] = "2"
    return response


def _domain_error(error: DomainError) -> Response:
    """A domain error as problem+json, its detail (marked with N_ by the rules) in the
    reader's language (shared/i18n.py), as every service's pages speak it."""
    detail = gettext(error.detail) if error.detail else error.detail
    return problem(error.status, detail, error.slug, **error.extra)


def _unexpected_error(error: Exception) -> Response:
    # HTTP errors never reach here: ProblemApi's handler for HTTPException is more specific.
    log.exception("unhandled error on %s %s", request.method, request.path)
    return problem(500, "Something went wrong on our side; it has been logged.")


def current_runtime():
    return current_app.extensions["loopgate"]


def per_bearer_token() -> str:
    """A rate limit's key for whoever holds the request's token (a door device, an
    organiser), else the client's address."""
    token = bearer_token()
    return "token:" + token_digest(token) if token else get_remote_address()


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def require(allowed: frozenset[str]) -> Callable:
    """Let the view run only for a bearer token whose role is `allowed` (shared/auth.py: READ,
    MANAGE, ATTENDEES, DOORS, SCAN, TEAM); it finds the principal in g.principal."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            token = bearer_token()
            if token is None:
                return problem(401, "A bearer token is required.")
            principal = principal_of(token)
            if principal is None:
                # A working token is never refused for others' failures (door devices may
                # share one address behind a venue's NAT); a guesser gets 429s past the rate.
                too_many = too_many_failures()
                if too_many is not None:
                    return too_many
                failed_authentications().record()
                return problem(401, "The bearer token is not valid.")
            if principal.role not in allowed:
                return problem(403, f"Your role ({principal.role}) may not do this.")
            g.principal = principal
            return view(*args, **kwargs)

        # Who may call the view, for tests that try every route as every role.
        wrapper.allowed_roles = allowed
        return wrapper

    return decorator


def principal_of(token: str) -> Principal | None:
    """Who a bearer token stands for in this service, if anyone (remembered for a few
    seconds, see RecentTokens): a member's access token (shared/identity.py), else a token
    this service keeps (the bootstrap token, a door device's)."""
    runtime = current_runtime()

    def look_up() -> Principal | None:
        with runtime.session_factory() as session:
            if is_access_token(token):
                return read_access_token(session, runtime.tables.identity, token)
            return authenticate(session, runtime.tables.tokens, token)

    principal = runtime.recent_tokens.principal(token, look_up)
    if (
        principal is not None
        and principal.personal_token
        and runtime.personal_token_uses.due(principal.subject)
    ):
        runtime.unit_of_work().run(runtime.definition.personal_token_used, principal)
    return principal


def current_principal() -> Principal:
    return g.principal


FAILED_AUTHENTICATIONS = "loopgate.failed_authentications"
# Failed sign-ins and refused bearer tokens per client address (LOOPGATE_RATE_LIMIT=off turns
# it off with the other limits): people mistype a few times a minute, guessers far more.
AUTHENTICATION_FAILURES_RATE = "10/minute"


class FailedAuthentications:
    """Failed sign-ins and refused bearer tokens, counted per client address in each process
    (as limit_rate counts). Past the rate, the address's next sign-ins and refused tokens are
    answered 429 until the window has room again, so guessing goes no faster than the rate.
    A client whose token works is never counted, nor refused."""

    def __init__(self, rate: str | None):
        self._limit = limits.parse(rate) if rate else None
        self._window = MovingWindowRateLimiter(MemoryStorage())

    def wait_seconds(self, account: str | None = None) -> int:
        """How long this request's client (or anyone signing in as `account`) must wait
        before trying again; 0: it may now."""
        if self._limit is None:
            return 0
        waits = [
            max(
                1,
                math.ceil(self._window.get_window_stats(self._limit, key).reset_time - time.time()),
            )
            for key in self._keys(account)
            if not self._window.test(self._limit, key)
        ]
        return max(waits, default=0)

    def record(self, account: str | None = None) -> None:
        if self._limit is not None:
            for key in self._keys(account):
                self._window.hit(self._limit, key)

    @staticmethod
    def _keys(account: str | None) -> list[str]:
        # Per account too: guessing one person's password from many addresses goes no faster.
        address = get_remote_address()
        return [address] if account is None else [address, f"account:{account.strip().lower()}"]


def failed_authentications() -> FailedAuthentications:
    return current_app.extensions[FAILED_AUTHENTICATIONS]


def too_many_failures(account: str | None = None) -> Response | None:
    """A 429 problem if this request's client (or, signing in, its account) failed to
    authenticate too often lately."""
    seconds = failed_authentications().wait_seconds(account)
    if not seconds:
        return None
    response = problem(
        429,
        "Too many failed sign-ins or refused tokens from your address or for this account. "
        f"Try again in {seconds} seconds.",
    )
    response.headers["Retry-After"] = str(seconds)
    return response


def _health_blueprint(name: str) -> Blueprint:
    blueprint = Blueprint(f"{name}_health", __name__, description="Health checks")

    @blueprint.route("/healthz")
    @blueprint.response(200)
    def healthz():
        """The process is alive."""
        return {"status": "ok", "service": name}

    @blueprint.route("/readyz")
    @blueprint.response(200)
    @blueprint.alt_response(503, description="A dependency is unreachable")
    def readyz():
        """The service's database and broker are reachable."""
        runtime = current_runtime()
        checks = {
            "database": database_reachable(runtime.engine),
            "broker": broker_reachable(runtime.settings.broker_url),
        }
        if all(checks.values()):
            return {"status": "ready", "checks": checks}
        return problem(503, "A dependency is unreachable.", checks=checks)

    return blueprint


def broker_reachable(broker_url: str) -> bool:
    try:
        with Connection(broker_url, connect_timeout=2) as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception:  # any transport failure means "not ready"; the reason is in the broker log
        return False


def page_url(endpoint: str, query: Mapping[str, str]) -> str:
    """The address of `endpoint` with this request's path arguments and `query` as its query
    string. The query is encoded apart: given to url_for, an argument named like one of
    url_for's own (endpoint, _method, _external) or like a path argument would break it."""
    return url_for(endpoint, **(request.view_args or {})) + "?" + urlencode(query)


def manage_token() -> str | None:
    """An attendee's private link token: `?token=` or the bearer header."""
    return request.args.get("token") or bearer_token()


def wants_csv() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/csv"])
    return best == "text/csv"


def limit_rate(
    app: Flask, endpoint: str, rate: str | None, per: Callable[[], str] = get_remote_address
) -> None:
    """Limit one endpoint per client address (behind the gateway, the address ProxyFix
    took from the trusted hop), or per what `per` names. Counters live in each process; with
    N gunicorn workers a client gets at most N times the rate, which is still a bound."""
    if rate is None:
        return
    limiter = Limiter(per, app=app, storage_uri="memory://", headers_enabled=True)
    app.view_functions[endpoint] = limiter.limit(rate)(app.view_functions[endpoint])
