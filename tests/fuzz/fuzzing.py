"""What the OpenAPI fuzz tests share: a populated embedded Loopgate, realistic values for the
generated requests, the problem+json check, product tracebacks, and per-operation tallies.

The fuzzer alone would rarely guess an existing event or a registration with its manage token,
so most requests would stop at 404. `RealValues` knows real objects (`populate` makes them: two
published events with ticket types, sessions, questions, registrations in every state, tickets,
check-in lists, a paired door device, pairing codes, signing keys; a draft event; the mails)
and puts them, often but not always, into the path, query and body fields of the same name:
values of one event together, each registration's manage token with its id and each ticket's
image key with its id. Operations that end things (cancel, erase, revoke, DELETE...) get the
second event's objects. It leaves alone any part of a request that was generated as invalid
(negative mode), so the invalid values still reach the API. Requests are sent mostly as the
organiser, sometimes as the door device (staff), with no token or with a token never issued.
"""

import copy
import logging
import random
import re
import threading
import traceback
import uuid
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from hypothesis import strategies as st

from shared.logs import current_correlation_id
from tests.support import ORGANISER_TOKEN, CoreFlow

PROBLEM_JSON = "application/problem+json"
CORRELATION_HEADER = "X-Correlation-ID"
ORGANISER = f"Bearer {ORGANISER_TOKEN}"
ANY_BEARER = "any bearer"


# --- realistic values -----------------------------------------------------------------------

# Operations that end or replace what they are given get objects of their own (an event of
# their own), so the objects the other operations read stay as they were made.
ENDING_ACTIONS = {
    "cancel",
    "unpublish",
    "erase",
    "approve",
    "reject",
    "revoke",
    "retire",
    "reissue",
    "claim",
}


@dataclass
class Pool:
    """Real values by field name (ids, secrets, lists of ids, answers)."""

    by_name: dict[str, list] = field(default_factory=lambda: defaultdict(list))

    def add(self, name: str, value) -> None:
        if value not in (None, "", [], {}) and value not in self.by_name[name]:
            self.by_name[name].append(value)

    def get(self, name: str) -> list:
        return self.by_name.get(name, [])


@dataclass
class RealValues:
    main: Pool = field(default_factory=Pool)
    expendable: Pool = field(default_factory=Pool)
    # registration id -> manage token; ticket id -> image key
    tokens: dict[str, str] = field(default_factory=dict)
    image_keys: dict[str, str] = field(default_factory=dict)
    # Who a generated request claims to be: mostly the organiser, so organiser routes are
    # explored beyond 401; sometimes a door device (staff), nobody, or a token never issued.
    # ANY_BEARER: a bearer token of any Latin-1 text.
    authorizations: list = field(
        default_factory=lambda: (
            [ORGANISER] * 8 + [None, "Bearer this-token-was-never-issued", ANY_BEARER]
        )
    )
    notes: list[str] = field(default_factory=list)
    # Which event a value belongs to (by repr), so one request gets values of one event.
    event_of: dict[str, str] = field(default_factory=dict)

    def add(self, pool: Pool, name: str, value, event_id: str | None) -> None:
        pool.add(name, value)
        if event_id is not None:
            self.event_of[repr(value)] = event_id

    def same_event(self, options: list, event_id: str | None) -> list:
        """The options of `event_id` (and those of no event), if there are any."""
        if event_id is None:
            return options
        kept = [
            option for option in options if self.event_of.get(repr(option), event_id) == event_id
        ]
        return kept or options

    def pool_for(self, method: str, path: str) -> Pool:
        last = path.rstrip("/").rsplit("/", 1)[-1]
        if method.upper() == "DELETE" or last in ENDING_ACTIONS:
            return self.expendable
        return self.main

    def candidates(self, pool: Pool, name: str) -> list:
        return pool.get(name) or self.main.get(name)

    def describe(self) -> dict[str, int]:
        names = set(self.main.by_name) | set(self.expendable.by_name)
        return {
            name: len(self.main.get(name)) + len(self.expendable.get(name))
            for name in sorted(names)
        }


def realistic(values: RealValues, case, pick, text) -> None:
    """Put real values into `case` in place. `pick(options)` chooses one of a list and `text()`
    makes a header-safe string: drawn by Hypothesis while fuzzing (so failures shrink and
    replay), derived from the case itself in the coverage phase (whose cases are fixed)."""
    meta = case.meta
    pool = values.pool_for(case.operation.method, case.operation.path)

    def negative(location: str) -> bool:
        if meta is None:
            return False
        return any(
            loc.value == location and info.mode.is_negative for loc, info in meta.components.items()
        )

    chosen = {}
    event_id = None  # the event of the real values chosen so far
    if case.path_parameters and not negative("path"):
        for name in list(case.path_parameters):
            options = values.same_event(values.candidates(pool, name), event_id)
            if not options:
                continue
            # One in four keeps the generated value (unknown ids, odd strings).
            value = pick([None, *options, *options, *options])
            if value is not None:
                case.path_parameters[name] = value
                chosen[name] = value
                event_id = event_id or values.event_of.get(repr(value))

    query_names = {parameter.name for parameter in case.operation.query}
    if query_names and not negative("query"):
        query = dict(case.query or {})
        for name, secrets, owner in [
            ("token", values.tokens, "registration_id"),
            ("key", values.image_keys, "ticket_id"),
        ]:
            if name in query_names and chosen.get(owner) in secrets:
                choice = pick(["real", "real", "real", "generated", "absent"])
                if choice == "real":
                    query[name] = secrets[chosen[owner]]
                elif choice == "absent":
                    query.pop(name, None)
        for name in query_names - {"token", "key"}:
            options = values.same_event(values.candidates(pool, name), event_id)
            if name in query and options:
                value = pick([None, *options, *options])
                if value is not None:
                    query[name] = value
        case.query = query

    if isinstance(case.body, (dict, list)) and not negative("body"):
        _realistic_body(values, pool, event_id, case.body, pick, depth=0)

    headers = dict(case.headers or {})
    authorization = pick([*values.authorizations, "generated"])
    if authorization != "generated":
        for name in [name for name in headers if name.lower() == "authorization"]:
            del headers[name]
        if authorization == ANY_BEARER:
            headers["Authorization"] = f"Bearer {text()}"
        elif authorization is not None:
            headers["Authorization"] = authorization
    case.headers = headers


def _realistic_body(values: RealValues, pool: Pool, event_id, body, pick, depth: int) -> None:
    if depth > 3:
        return
    if isinstance(body, list):
        for item in body:
            _realistic_body(values, pool, event_id, item, pick, depth + 1)
        return
    if not isinstance(body, dict):
        return
    for name, current in list(body.items()):
        options = [
            option
            for option in values.same_event(values.candidates(pool, name), event_id)
            if current is None or isinstance(option, type(current))
        ]
        if options:
            value = pick([None, *options, *options, *options])
            if value is not None:
                body[name] = copy.deepcopy(value)
                event_id = event_id or values.event_of.get(repr(value))
        elif isinstance(current, (dict, list)):
            _realistic_body(values, pool, event_id, current, pick, depth + 1)


# What an HTTP/1.1 header value can carry: Latin-1 without control characters.
HEADER_TEXT = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0xFF, exclude_characters="\x7f"),
    min_size=1,
    max_size=40,
)


def drawn_realistic(values: RealValues, case):
    """A Hypothesis strategy of `case` with real values drawn into it (for `flatmap_case`)."""

    @st.composite
    def strategy(draw):
        realistic(
            values,
            case,
            lambda options: draw(st.sampled_from(options)),
            lambda: draw(HEADER_TEXT),
        )
        return case

    return strategy()


def fixed_realistic(values: RealValues, case):
    """`case` with real values chosen by a seed derived from the case (coverage phase)."""
    seed = zlib.crc32(
        repr(
            (
                case.operation.label,
                case.path_parameters,
                case.query,
                case.headers,
                case.body,
                case.meta.phase.data.description if case.meta else None,
            )
        ).encode(errors="replace")
    )
    rng = random.Random(seed)  # noqa: S311 - chooses test inputs, not secrets
    realistic(
        values,
        case,
        lambda options: options[rng.randrange(len(options))],
        lambda: "".join(chr(rng.randrange(0x21, 0x100)) for _ in range(8)).replace("\x7f", "~"),
    )
    return case


# --- the documents and a populated Loopgate -------------------------------------------------


def without_pages(document: dict) -> dict:
    """The document less its HTML pages (the `*_pages` tag: the ticket page, the mailbox):
    they answer people, errors included, with pages; tests/e2e and the embedded page tests
    cover them."""
    document["paths"] = {
        path: operations
        for path, operations in document["paths"].items()
        if not any(
            tag.endswith("_pages")
            for operation in operations.values()
            if isinstance(operation, dict)
            for tag in operation.get("tags", ())
        )
    }
    return document


def openapi_documents() -> dict[str, dict]:
    """Each service's OpenAPI document, from its app (no database or broker is touched)."""
    import tempfile

    from services.system import SERVICES, definition
    from shared.runtime import ServiceRuntime
    from shared.settings import Settings

    documents = {}
    with tempfile.TemporaryDirectory(prefix="loopgate-openapi-") as data_dir:
        settings = Settings.from_env(
            {"LOOPGATE_DATA_DIR": data_dir, "LOOPGATE_BOOTSTRAP_TOKEN": ORGANISER_TOKEN}
        )
        for service in SERVICES:
            runtime = ServiceRuntime(definition(service), settings)
            try:
                app = definition(service).app_factory(runtime=runtime)
                response = app.test_client().get(f"/api/{service}/openapi.json")
                assert response.status_code == 200, response.get_data(as_text=True)
                documents[service] = without_pages(response.get_json())
            finally:
                runtime.dispose()
    return documents


@dataclass
class World:
    """What the session fixture made, for the hooks that draw cases."""

    values: RealValues = field(default_factory=RealValues)


WORLD = World()


def populate(flow: CoreFlow) -> RealValues:
    """Create what the generated requests should find: a published event with everything in
    it (the main pool), a second one for the operations that end things (the expendable pool),
    and a draft event."""
    values = RealValues()
    staff = _stage(flow, values, values.main, "Main")
    _stage(flow, values, values.expendable, "Expendable")
    draft_id = flow.create_event(title="Draft showcase")
    values.add(values.main, "event_id", draft_id, draft_id)
    values.add(values.main, "ticket_type_id", flow.add_ticket_type(draft_id, quota=5), draft_id)
    if staff:
        values.authorizations += [f"Bearer {staff}"] * 2
    _optional(values, "mail ids from the mailbox", lambda: _mail_ids(flow, values.main))
    return values


def _stage(flow: CoreFlow, values: RealValues, pool: Pool, label: str) -> str | None:
    """A published event with ticket types, a session, questions, registrations in every
    state, tickets (one scanned in), check-in lists and a paired door device. Returns the
    device's staff token."""
    organiser = flow.organiser
    event_id = flow.create_event(title=f"{label} showcase")

    def add(name: str, value) -> None:
        values.add(pool, name, value, event_id)

    general = flow.add_ticket_type(event_id, quota=100_000)
    small = flow.add_ticket_type(event_id, quota=1, name="Small")
    add("event_id", event_id)
    for ticket_type in (general, small):
        add("ticket_type_id", ticket_type)
    add("ticket_type_ids", [general])
    add("ticket_type_ids", [general, small])

    def approval_type():
        created = _json(
            flow.post(
                f"/api/registration/events/{event_id}/ticket-types",
                json={"name": "By approval", "quota": 100, "requires_approval": True},
                headers=organiser,
            ),
            201,
        )
        add("ticket_type_id", created["id"])
        return created["id"]

    approval = _optional(values, "a ticket type needing approval", approval_type)

    def session():
        starts = datetime.now(UTC) + timedelta(hours=2)
        created = _json(
            flow.post(
                f"/api/registration/events/{event_id}/sessions",
                json={
                    "title": "Workshop",
                    "starts_at": starts.isoformat(),
                    "ends_at": (starts + timedelta(hours=1)).isoformat(),
                    "capacity": 1000,
                },
                headers=organiser,
            ),
            201,
        )
        add("session_id", created["id"])
        add("session_ids", [created["id"]])

    _optional(values, "a session", session)

    def questions():
        text = _json(
            flow.post(
                f"/api/registration/events/{event_id}/questions",
                json={"kind": "text", "label": "Dietary needs?", "required": False},
                headers=organiser,
            ),
            201,
        )
        choice = _json(
            flow.post(
                f"/api/registration/events/{event_id}/questions",
                json={
                    "kind": "choice",
                    "label": "T-shirt size?",
                    "options": ["S", "M", "L"],
                    "required": False,
                },
                headers=organiser,
            ),
            201,
        )
        for question in (text, choice):
            add("question_id", question["id"])
        add("answers", {text["id"]: "Vegetarian"})
        add("answers", {text["id"]: "None", choice["id"]: "M"})

    _optional(values, "questions", questions)
    flow.publish(event_id)

    def registered(ticket_type: str, name: str) -> dict:
        registration = flow.registered(event_id, ticket_type, name=name)
        add("registration_id", registration["id"])
        values.tokens[registration["id"]] = registration["manage_token"]
        return registration

    confirmed = [registered(general, f"{label} attendee {i}") for i in range(3)]
    confirmed.append(registered(small, f"{label} small ticket"))
    registered(small, f"{label} waitlisted")  # the quota of one is taken: waitlisted
    if approval:
        _optional(values, "a pending registration", lambda: registered(approval, "Pending"))
    cancelled = registered(general, f"{label} cancelled")
    for registration in [*confirmed, cancelled]:
        ticket = flow.wait_for_ticket(registration)
        add("ticket_id", ticket["id"])
        add("payload", ticket["payload"])
        values.image_keys[ticket["id"]] = _query_value(ticket.get("qr_png_url"), "key")
        flow.wait_until_in_roster(ticket["id"])
    _json(flow.cancel(cancelled), 200)
    flow.scan(pool.get("payload")[0])

    lists = _json(flow.get(f"/api/checkin/events/{event_id}/lists", headers=organiser), 200)
    for checkin_list in lists:
        add("list_id", checkin_list["id"])

    def second_list():
        created = _json(
            flow.post(
                f"/api/checkin/events/{event_id}/lists",
                json={"name": "Side door", "ticket_type_ids": [general], "reentry": "unlimited"},
                headers=organiser,
            ),
            201,
        )
        add("list_id", created["id"])

    _optional(values, "a second check-in list", second_list)

    def pairing_code() -> str:
        list_id = pool.get("list_id")[0]
        created = _json(
            flow.post(f"/api/checkin/lists/{list_id}/pairing-codes", headers=organiser), 201
        )
        return created["code"]

    def paired_device() -> str:
        device = _json(
            flow.post(
                "/api/checkin/pairing-codes/redeem",
                json={"code": pairing_code(), "device_name": f"{label} door"},
            ),
            201,
        )
        add("device_id", device["device_id"])
        return device["token"]

    staff = _optional(values, "a paired door device", paired_device)
    for _ in range(3):  # single use: a few for the fuzzer to redeem
        _optional(values, "a pairing code", lambda: add("code", pairing_code()))

    def signing_keys():
        keys = _json(flow.get(f"/api/ticketing/events/{event_id}/keys", headers=organiser), 200)
        for key in keys["keys"]:
            add("key_id", key["key_id"])

    _optional(values, "the event's signing keys", signing_keys)
    return staff


def _mail_ids(flow: CoreFlow, pool: Pool) -> None:
    page = flow.get("/api/ticketing/mailbox")
    assert page.status_code == 200, page.status_code
    for mail_id in dict.fromkeys(UUID_PATTERN.findall(page.text)):
        pool.add("mail_id", mail_id)


UUID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _optional(values: RealValues, what: str, make):
    """Make something the fuzzer can do without; note it when the API refuses."""
    try:
        return make()
    except (AssertionError, KeyError, IndexError, TypeError, ValueError) as exc:
        values.notes.append(f"could not make {what}: {exc}")
        return None


def _json(response, status: int):
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url} answered {response.status_code}: "
        f"{response.text[:300]}"
    )
    return response.json()


def _query_value(url: str | None, name: str) -> str | None:
    if not url:
        return None
    found = parse_qs(urlsplit(url).query).get(name)
    return found[0] if found else None


# --- product tracebacks ---------------------------------------------------------------------


class ErrorLog(logging.Handler):
    """Keeps the error log records (with their tracebacks) of the requests being fuzzed, by
    the correlation id each request is sent with."""

    def __init__(self):
        super().__init__(level=logging.ERROR)
        self._lock = threading.Lock()
        self._records: dict[str, list[str]] = defaultdict(list)

    def emit(self, record: logging.LogRecord) -> None:
        correlation_id = current_correlation_id()
        if not correlation_id:
            return
        text = f"{record.name}: {record.getMessage()}"
        if record.exc_info:
            text += "\n" + "".join(traceback.format_exception(*record.exc_info))
        with self._lock:
            self._records[correlation_id].append(text)

    def take(self, correlation_id: str) -> str:
        with self._lock:
            return "\n".join(self._records.pop(correlation_id, []))


def new_correlation_id() -> str:
    return uuid.uuid4().hex


# --- checks ---------------------------------------------------------------------------------


def problem_details(ctx, response, case) -> None:
    """Every 4xx and 5xx is RFC 9457 application/problem+json with type, title and status."""
    if response.status_code < 400:
        return None
    content_type = response.headers.get("Content-Type", response.headers.get("content-type"))
    if isinstance(content_type, list):
        content_type = content_type[0] if content_type else None
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type != PROBLEM_JSON:
        raise AssertionError(
            f"A {response.status_code} answered with Content-Type {content_type!r}, "
            f"not {PROBLEM_JSON}"
        )
    try:
        body = response.json()
    except Exception as exc:
        raise AssertionError(f"A {response.status_code} problem body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise AssertionError(f"A {response.status_code} problem body is not an object: {body!r}")
    missing = [name for name in ("type", "title", "status") if name not in body]
    if missing:
        raise AssertionError(f"A {response.status_code} problem lacks {missing}: {body!r}")
    if body["status"] != response.status_code:
        raise AssertionError(
            f"The problem's status {body['status']!r} is not the HTTP status {response.status_code}"
        )
    if not isinstance(body["type"], str) or not body["type"]:
        raise AssertionError(f"The problem's type is not a non-empty string: {body['type']!r}")
    return None


# --- tallies --------------------------------------------------------------------------------


@dataclass
class OperationTally:
    cases: int = 0
    seconds: float = 0.0
    phases: Counter = field(default_factory=Counter)
    modes: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)


@dataclass
class Finding:
    operation: str
    failures: list[str]
    status: int
    request: str
    body: str
    traceback: str
    occurrences: int = 1


class Tallies:
    def __init__(self):
        self.operations: dict[str, OperationTally] = defaultdict(OperationTally)
        self.findings: dict[tuple, Finding] = {}
        self.started: float | None = None
        self.finished: float | None = None
        self.seed: int | None = None
        self.real_values: dict[str, int] = {}
        self.notes: list[str] = []

    def record(self, case, response, seconds: float) -> None:
        tally = self.operations[f"{case.operation.method.upper()} {case.operation.path}"]
        tally.cases += 1
        tally.seconds += seconds
        meta = case.meta
        tally.phases[meta.phase.name.value if meta else "explicit"] += 1
        tally.modes[meta.generation.mode.value if meta else "?"] += 1
        tally.statuses[response.status_code if response is not None else "error"] += 1

    def finding(self, case, response, failures: list[str], request: str, product_traceback: str):
        label = f"{case.operation.method.upper()} {case.operation.path}"
        status = response.status_code if response is not None else 0
        last_line = product_traceback.strip().splitlines()[-1] if product_traceback else ""
        # The same fault can come with one more or one less schemathesis check failing.
        key = (label, status, min(f.splitlines()[0] for f in failures), last_line)
        if key in self.findings:
            found = self.findings[key]
            found.occurrences += 1
            # Hypothesis shrinks a failure and runs the smallest failing request last.
            found.request = request
            found.body = _body_text(response)
            found.traceback = product_traceback or found.traceback
            return
        self.findings[key] = Finding(
            operation=label,
            failures=failures,
            status=status,
            request=request,
            body=_body_text(response),
            traceback=product_traceback,
        )


def _body_text(response) -> str:
    if response is None:
        return ""
    try:
        text = response.text
    except Exception:
        text = repr(response.content[:500])
    return text if len(text) <= 800 else text[:800] + "..."


TALLIES = Tallies()
