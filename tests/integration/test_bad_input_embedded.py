"""Bad input to the HTTP APIs, in embedded mode: a specification (DESIGN.md, "HTTP").

Whatever a client sends, a wrong request gets a clear 4xx `application/problem+json` with
`type`, `title` and `status` (and per-field `errors` for validation), never a 5xx, and it
changes nothing in any service's database: every table of every service, the outbox and inbox
included, holds the same rows after the request as before it.

One embedded Loopgate serves the whole module (a fresh one per test would cost seconds each);
none of these requests may change it, and `assert_refused` checks exactly that every time.
"""

import hashlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from services.ticketing import mail_outbox
from services.ticketing.models import OutgoingMail
from shared.auth import DEFAULT_ORGANISATION, ORGANISER, STAFF, Principal, ensure_token
from tests.support import ORGANISER_TOKEN, CoreFlow

PROBLEM_JSON = "application/problem+json"
MIB = 1024 * 1024

STAFF_TOKEN = "test-staff-token-for-the-main-event"
OTHER_ORG_TOKEN = "test-organiser-token-of-another-organisation"
BEARERS = {
    "organiser": f"Bearer {ORGANISER_TOKEN}",
    "staff": f"Bearer {STAFF_TOKEN}",
    "other_org": f"Bearer {OTHER_ORG_TOKEN}",
    "unknown": "Bearer this-token-was-never-issued",
    "empty_bearer": "Bearer ",
    "basic": "Basic b3JnYW5pc2VyOnNlY3JldA==",
}
UNKNOWN_ID = "6b0f3c1e-8d4a-4c55-9a57-0e1d2f3a4b5c"  # a well-formed uuid that names nothing


# --- the running system and what it holds ---------------------------------------------------


@pytest.fixture(scope="module")
def loopgate(tmp_path_factory):
    """The conftest `embedded` fixture, once for the module: a whole embedded Loopgate."""
    from shared.embedded import EmbeddedSystem
    from shared.settings import Settings
    from tests.support import ServedApp

    settings = Settings.from_env(
        {
            "LOOPGATE_DATA_DIR": str(tmp_path_factory.mktemp("loopgate")),
            "LOOPGATE_BOOTSTRAP_TOKEN": ORGANISER_TOKEN,
            "LOOPGATE_RATE_LIMIT": "off",
        }
    )
    system = EmbeddedSystem(settings)
    system.start()
    try:
        with ServedApp(system.app) as served:
            flow = CoreFlow(served.url)
            flow.system = system
            yield flow
    finally:
        system.stop()


@dataclass
class World:
    """What the bad requests aim at; `ids` fills the `{placeholders}` of paths and bodies."""

    ids: dict[str, str] = field(default_factory=dict)
    registrations: dict[str, dict] = field(default_factory=dict)
    tickets: dict[str, dict] = field(default_factory=dict)


@pytest.fixture(scope="module")
def world(loopgate) -> World:
    api = loopgate
    event, ticket_type = api.published_event(quota=10)
    other_event, other_ticket_type = api.published_event(quota=10, title="Other Day")
    draft_event = api.create_event(title="Draft Day")
    draft_ticket_type = api.add_ticket_type(draft_event, quota=10)
    bare_event = api.create_event(title="No Ticket Types Yet")
    ended_event, ended_ticket_type = api.published_event(
        starts_in=-timedelta(days=2), lasts=timedelta(hours=3), title="Yesterday's News"
    )

    # a and b are the attendees whose links must not open each other; c is only there to be
    # cancelled if the product ever acts on an oversized request (see the 413 test).
    registrations = {
        name: api.registered(event, ticket_type, name=attendee, email=f"{name}@example.com")
        for name, attendee in [("a", "Ada Lovelace"), ("b", "Bartholomew Secret"), ("c", "Cy")]
    }
    tickets = {name: api.wait_for_ticket(reg) for name, reg in registrations.items()}
    for ticket in tickets.values():
        api.wait_until_in_roster(ticket["id"])
    lists = api.get(f"/api/checkin/events/{event}/lists", headers=api.organiser)
    assert lists.status_code == 200, lists.text
    default_list = next(item["id"] for item in lists.json() if item["is_default"])

    for runtime in api.system.runtimes.values():
        with runtime.session_factory() as session:
            ensure_token(
                session,
                runtime.tables.tokens,
                STAFF_TOKEN,
                Principal(STAFF, DEFAULT_ORGANISATION, event),
            )
            ensure_token(
                session, runtime.tables.tokens, OTHER_ORG_TOKEN, Principal(ORGANISER, "other-org")
            )

    ids = {
        "event": event,
        "ticket_type": ticket_type,
        "other_event": other_event,
        "other_ticket_type": other_ticket_type,
        "draft_event": draft_event,
        "draft_ticket_type": draft_ticket_type,
        "bare_event": bare_event,
        "ended_event": ended_event,
        "ended_ticket_type": ended_ticket_type,
        "default_list": default_list,
        "unknown": UNKNOWN_ID,
    }
    for name, registration in registrations.items():
        ids[f"reg_{name}"] = registration["id"]
        ids[f"token_{name}"] = registration["manage_token"]
    for name, ticket in tickets.items():
        ids[f"ticket_{name}"] = ticket["id"]
        ids[f"key_{name}"] = parse_qs(urlsplit(ticket["qr_png_url"]).query)["key"][0]
        ids[f"payload_{name}"] = ticket["payload"]
    settle(api.system)
    return World(ids=ids, registrations=registrations, tickets=tickets)


# --- helpers: the database snapshot and the refusal check -----------------------------------


def snapshot(system) -> dict[str, dict[str, tuple[int, str]]]:
    """Per service, per table (outbox and inbox included): row count and a digest of the rows."""
    result = {}
    for name, runtime in system.runtimes.items():
        tables = {}
        with runtime.session_factory() as session:
            for table in runtime.definition.metadata.sorted_tables:
                rows = sorted(repr(tuple(row)) for row in session.execute(select(table)))
                digest = hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16]
                tables[table.name] = (len(rows), digest)
        result[name] = tables
    return result


def settle(system, timeout: float = 15) -> dict:
    """Wait until no event is on its way between services and no ticket mail waits for the
    mail relay (which stores QR images as it sends), then return the snapshot."""
    deadline = time.monotonic() + timeout
    previous = None
    while time.monotonic() < deadline:
        # EmbeddedSystem.stop() waits on the same check: no unsent outbox row, no queued message.
        if system._idle() and not mail_waiting(system):
            current = snapshot(system)
            if current == previous:
                return current
            previous = current
        time.sleep(0.05)
    raise AssertionError("the embedded system did not settle")


def mail_waiting(system) -> bool:
    runtime = system.runtimes["ticketing"]
    with runtime.session_factory() as session:
        waiting = select(OutgoingMail.id).where(OutgoingMail.status == mail_outbox.PENDING)
        return session.scalar(waiting.limit(1)) is not None


def changes(before: dict, after: dict) -> list[str]:
    """What differs between two snapshots, e.g. ['registration.registrations: 3 rows -> 4']."""
    found = []
    for service, tables in after.items():
        for table, (count, digest) in tables.items():
            old_count, old_digest = before[service].get(table, (0, ""))
            if (count, digest) != (old_count, old_digest):
                what = f"{old_count} rows -> {count}" if count != old_count else "rows changed"
                found.append(f"{service}.{table}: {what}")
    return found


def assert_problem(response, status: int | tuple[int, ...], context: str = "") -> dict:
    expected = status if isinstance(status, tuple) else (status,)
    shown = f"{response.status_code} {response.headers.get('Content-Type')}: {response.text[:600]}"
    shown += f" ({context})" if context else ""
    assert response.status_code in expected, shown
    assert response.headers.get("Content-Type", "").startswith(PROBLEM_JSON), shown
    body = response.json()
    assert isinstance(body, dict), shown
    assert isinstance(body.get("type"), str) and body["type"], shown
    assert isinstance(body.get("title"), str) and body["title"], shown
    assert body.get("status") == response.status_code, shown
    assert "Traceback" not in response.text, shown
    return body


def assert_field_error(body: dict, field_path: str) -> None:
    """`errors` names the field: `attendee.email` is errors[<location>]["attendee"]["email"]."""
    errors = body.get("errors")
    assert isinstance(errors, dict) and errors, f"no per-field errors in {body}"
    for location in errors.values():  # webargs groups them by location: json, query, headers
        node = location
        for part in field_path.split("."):
            if not isinstance(node, dict) or part not in node:
                break
            node = node[part]
        else:
            assert node, f"empty message for {field_path} in {body}"
            return
    raise AssertionError(f"errors do not name {field_path!r}: {errors}")


NO_BODY = object()


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # {placeholders} are filled from World.ids
    auth: str | None = None  # a key of BEARERS
    json: Any = NO_BODY  # strings in it are filled too
    data: str | bytes | None = None  # sent as is, as application/json unless headers say otherwise
    params: dict | None = None
    headers: dict | None = None


def _fill(value, ids: dict):
    if isinstance(value, str):
        return value.format(**ids) if "{" in value else value
    if isinstance(value, dict):
        return {key: _fill(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, ids) for item in value]
    return value


def send(api: CoreFlow, world: World, call: Call):
    headers = dict(call.headers or {})
    if call.auth:
        headers["Authorization"] = BEARERS[call.auth]
    kwargs: dict[str, Any] = {"headers": headers, "timeout": 30}
    if call.params:
        kwargs["params"] = _fill(call.params, world.ids)
    if call.json is not NO_BODY:
        kwargs["json"] = _fill(call.json, world.ids)
    if call.data is not None:
        headers.setdefault("Content-Type", "application/json")
        kwargs["data"] = call.data
    return api.http.request(call.method, api.url(_fill(call.path, world.ids)), **kwargs)


def assert_refused(api, world, call: Call, status, field_path: str | None = None):
    """The call is answered `status` as problem+json and no database changes; its response."""
    before = settle(api.system)
    response = send(api, world, call)
    after = settle(api.system)
    changed = changes(before, after)
    context = f"{call.method} {call.path} changed the database: {changed or 'no'}"
    body = assert_problem(response, status, context)
    if field_path:
        assert_field_error(body, field_path)
    assert not changed, context
    return response


# --- valid bodies to spoil one field at a time ----------------------------------------------

DROP = object()


def _spoil(valid: dict, **changed) -> dict:
    body = {**valid, **changed}
    return {key: value for key, value in body.items() if value is not DROP}


_STARTS = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)


def event_body(**changed) -> dict:
    valid = {
        "title": "Bad Input Day",
        "starts_at": _STARTS.isoformat(),
        "ends_at": (_STARTS + timedelta(hours=8)).isoformat(),
    }
    return _spoil(valid, **changed)


def ticket_type_body(**changed) -> dict:
    return _spoil({"name": "VIP", "quota": 10}, **changed)


def attendee(**changed) -> dict:
    return _spoil({"name": "Mallory", "email": "mallory@example.com"}, **changed)


def registration_body(**changed) -> dict:
    return _spoil({"ticket_type_id": "{ticket_type}", "attendee": attendee()}, **changed)


def scan_body(**changed) -> dict:
    return _spoil({"payload": "{payload_a}", "scan_id": "bad-input-scan"}, **changed)


EVENTS = "/api/registration/events"
EVENT_PATH = "/api/registration/events/{event}"
TICKET_TYPES = "/api/registration/events/{event}/ticket-types"
PUBLISH = "/api/registration/events/{event}/publish"
REGISTER = "/api/registration/events/{event}/registrations"
REGISTRATION_A = "/api/registration/registrations/{reg_a}"
CANCEL_A = "/api/registration/registrations/{reg_a}/cancel"
TICKET_A = "/api/ticketing/registrations/{reg_a}/ticket"
QR_PNG_A = "/api/ticketing/tickets/{ticket_a}/qr.png"
QR_SVG_A = "/api/ticketing/tickets/{ticket_a}/qr.svg"
SCANS = "/api/checkin/scans"

# The routes taking a JSON object, with the auth each needs to get as far as its body.
JSON_ROUTES = [
    pytest.param(EVENTS, "organiser", id="events"),
    pytest.param(TICKET_TYPES, "organiser", id="ticket-types"),
    pytest.param(REGISTER, None, id="registrations"),
    pytest.param(SCANS, "organiser", id="scans"),
]


# --- the body is not a JSON object ----------------------------------------------------------


@pytest.mark.parametrize("path, auth", JSON_ROUTES)
@pytest.mark.parametrize(
    "data",
    [
        pytest.param('{"title": "Demo", ', id="truncated"),
        pytest.param('{"title": "Demo",}', id="trailing-comma"),
        pytest.param("{'title': 'Demo'}", id="single-quotes"),
        pytest.param(b'{"title": "\xff\xfe"}', id="not-utf8"),
    ],
)
def test_malformed_json_is_400(loopgate, world, path, auth, data):
    assert_refused(loopgate, world, Call("POST", path, auth=auth, data=data), 400)


@pytest.mark.parametrize("path, auth", JSON_ROUTES)
def test_an_empty_json_body_is_refused(loopgate, world, path, auth):
    """Empty is not JSON (400) or, read as "no fields", misses the required ones (422)."""
    assert_refused(loopgate, world, Call("POST", path, auth=auth, data=""), (400, 422))


@pytest.mark.parametrize("path, auth", JSON_ROUTES)
@pytest.mark.parametrize(
    "data",
    [
        pytest.param("[]", id="array"),
        pytest.param('[{"title": "Demo"}]', id="array-of-object"),
        pytest.param('"Demo"', id="string"),
        pytest.param("42", id="number"),
        pytest.param("true", id="boolean"),
        pytest.param("null", id="null"),
    ],
)
def test_json_that_is_not_an_object_is_422(loopgate, world, path, auth, data):
    response = assert_refused(loopgate, world, Call("POST", path, auth=auth, data=data), 422)
    assert response.json().get("errors"), response.text


@pytest.mark.parametrize("path, auth", JSON_ROUTES)
def test_a_body_not_sent_as_json_is_refused(loopgate, world, path, auth):
    call = Call(
        "POST", path, auth=auth, data='{"title": "x"}', headers={"Content-Type": "text/plain"}
    )
    assert_refused(loopgate, world, call, (415, 422))


# --- mass assignment: server-owned and unknown fields are refused ---------------------------


@pytest.mark.parametrize(
    "path, auth, body, field_path",
    [
        pytest.param(
            EVENTS, "organiser", event_body(status="published"), "status", id="event-status"
        ),
        pytest.param(EVENTS, "organiser", event_body(id=UNKNOWN_ID), "id", id="event-id"),
        pytest.param(
            EVENTS,
            "organiser",
            event_body(organisation_id="other-org"),
            "organisation_id",
            id="event-organisation_id",
        ),
        pytest.param(
            EVENTS,
            "organiser",
            event_body(created_at="2020-01-01T00:00:00+00:00"),
            "created_at",
            id="event-created_at",
        ),
        pytest.param(EVENTS, "organiser", event_body(titel="typo"), "titel", id="event-typo"),
        pytest.param(
            TICKET_TYPES,
            "organiser",
            ticket_type_body(confirmed_count=10),
            "confirmed_count",
            id="ticket-type-confirmed_count",
        ),
        pytest.param(
            TICKET_TYPES, "organiser", ticket_type_body(id=UNKNOWN_ID), "id", id="ticket-type-id"
        ),
        pytest.param(
            TICKET_TYPES,
            "organiser",
            ticket_type_body(event_id="{other_event}"),
            "event_id",
            id="ticket-type-event_id",
        ),
        pytest.param(
            REGISTER,
            None,
            registration_body(status="confirmed"),
            "status",
            id="registration-status",
        ),
        pytest.param(REGISTER, None, registration_body(id=UNKNOWN_ID), "id", id="registration-id"),
        pytest.param(
            REGISTER,
            None,
            registration_body(manage_token="chosen-by-me"),
            "manage_token",
            id="registration-manage_token",
        ),
        pytest.param(
            REGISTER,
            None,
            registration_body(event_id="{other_event}"),
            "event_id",
            id="registration-event_id",
        ),
        pytest.param(
            REGISTER,
            None,
            registration_body(attendee=attendee(checked_in_at="2030-01-01T10:00:00+00:00")),
            "attendee.checked_in_at",
            id="registration-attendee-checked_in_at",
        ),
        pytest.param(
            EVENT_PATH, "organiser", {"status": "published"}, "status", id="event-change-status"
        ),
        pytest.param(
            EVENT_PATH,
            "organiser",
            {"organisation_id": "other-org"},
            "organisation_id",
            id="event-change-organisation_id",
        ),
        pytest.param(
            REGISTRATION_A + "?token={token_a}",
            None,
            {"answers": {}, "status": "confirmed"},
            "status",
            id="registration-change-status",
        ),
        pytest.param(SCANS, "organiser", scan_body(verdict="ok"), "verdict", id="scan-verdict"),
        pytest.param(
            SCANS, "organiser", scan_body(ticket_id="{ticket_a}"), "ticket_id", id="scan-ticket_id"
        ),
    ],
)
def test_unknown_and_server_owned_fields_are_refused_with_422(
    loopgate, world, path, auth, body, field_path
):
    method = "PATCH" if path in (EVENT_PATH, REGISTRATION_A + "?token={token_a}") else "POST"
    assert_refused(loopgate, world, Call(method, path, auth=auth, json=body), 422, field_path)


# --- wrong types and values -----------------------------------------------------------------

TEN_THOUSAND = "x" * 10_000


@pytest.mark.parametrize(
    "body, field_path",
    [
        pytest.param(event_body(title=DROP), "title", id="title-missing"),
        pytest.param(event_body(title=""), "title", id="title-empty"),
        pytest.param(event_body(title=None), "title", id="title-null"),
        pytest.param(event_body(title=123), "title", id="title-number"),
        pytest.param(event_body(title=TEN_THOUSAND), "title", id="title-10000-chars"),
        pytest.param(
            event_body(starts_at=_STARTS.replace(tzinfo=None).isoformat()),
            "starts_at",
            id="starts_at-without-offset",
        ),
        pytest.param(event_body(starts_at="next tuesday"), "starts_at", id="starts_at-text"),
        pytest.param(event_body(starts_at=1767225600), "starts_at", id="starts_at-number"),
        pytest.param(event_body(starts_at=DROP), "starts_at", id="starts_at-missing"),
        pytest.param(
            event_body(ends_at=(_STARTS + timedelta(hours=8)).replace(tzinfo=None).isoformat()),
            "ends_at",
            id="ends_at-without-offset",
        ),
        pytest.param(
            event_body(ends_at=(_STARTS - timedelta(hours=1)).isoformat()),
            "ends_at",
            id="ends_at-before-starts_at",
        ),
        pytest.param(event_body(ends_at=_STARTS.isoformat()), "ends_at", id="ends_at-equals-start"),
        pytest.param(event_body(timezone="Mars/Olympus_Mons"), "timezone", id="timezone-unknown"),
        pytest.param(
            event_body(early_entry_minutes=-5), "early_entry_minutes", id="early-entry-negative"
        ),
        pytest.param(event_body(description=TEN_THOUSAND), "description", id="description-long"),
    ],
)
def test_a_bad_event_is_refused_with_422(loopgate, world, body, field_path):
    call = Call("POST", EVENTS, auth="organiser", json=body)
    assert_refused(loopgate, world, call, 422, field_path)


@pytest.mark.parametrize(
    "body, field_path",
    [
        pytest.param(ticket_type_body(quota="ten"), "quota", id="quota-word"),
        pytest.param(ticket_type_body(quota="10"), "quota", id="quota-numeric-string"),
        pytest.param(ticket_type_body(quota=True), "quota", id="quota-true"),
        pytest.param(ticket_type_body(quota=-1), "quota", id="quota-negative"),
        pytest.param(ticket_type_body(quota=2.5), "quota", id="quota-fraction"),
        pytest.param(ticket_type_body(quota=10**7), "quota", id="quota-huge"),
        pytest.param(ticket_type_body(quota=10**30), "quota", id="quota-beyond-64-bit"),
        pytest.param(ticket_type_body(quota=None), "quota", id="quota-null"),
        pytest.param(ticket_type_body(quota=DROP), "quota", id="quota-missing"),
        pytest.param(ticket_type_body(name=""), "name", id="name-empty"),
        pytest.param(ticket_type_body(name=TEN_THOUSAND), "name", id="name-10000-chars"),
        pytest.param(ticket_type_body(name=["VIP"]), "name", id="name-list"),
    ],
)
def test_a_bad_ticket_type_is_refused_with_422(loopgate, world, body, field_path):
    call = Call("POST", TICKET_TYPES, auth="organiser", json=body)
    assert_refused(loopgate, world, call, 422, field_path)


@pytest.mark.parametrize(
    "body, field_path",
    [
        pytest.param(
            registration_body(ticket_type_id="general"), "ticket_type_id", id="tt-not-uuid"
        ),
        pytest.param(registration_body(ticket_type_id=42), "ticket_type_id", id="tt-number"),
        pytest.param(registration_body(ticket_type_id=DROP), "ticket_type_id", id="tt-missing"),
        pytest.param(
            registration_body(ticket_type_id="{other_ticket_type}"),
            "ticket_type_id",
            id="tt-of-another-event",
        ),
        pytest.param(
            registration_body(ticket_type_id="{unknown}"), "ticket_type_id", id="tt-unknown"
        ),
        pytest.param(registration_body(attendee=DROP), "attendee", id="attendee-missing"),
        pytest.param(registration_body(attendee="Mallory"), "attendee", id="attendee-string"),
        pytest.param(registration_body(attendee=None), "attendee", id="attendee-null"),
        pytest.param(registration_body(attendee=[attendee()]), "attendee", id="attendee-list"),
        pytest.param(
            registration_body(attendee=attendee(name="")), "attendee.name", id="name-empty"
        ),
        pytest.param(
            registration_body(attendee=attendee(name="   ")), "attendee.name", id="name-blank"
        ),
        pytest.param(
            registration_body(attendee=attendee(name=TEN_THOUSAND)),
            "attendee.name",
            id="name-10000-chars",
        ),
        pytest.param(
            registration_body(attendee=attendee(name=DROP)), "attendee.name", id="name-missing"
        ),
        pytest.param(
            registration_body(attendee=attendee(email="mallory")), "attendee.email", id="email-bare"
        ),
        pytest.param(
            registration_body(attendee=attendee(email="mallory@")),
            "attendee.email",
            id="email-no-domain",
        ),
        pytest.param(
            registration_body(attendee=attendee(email="@example.com")),
            "attendee.email",
            id="email-no-local-part",
        ),
        pytest.param(
            registration_body(attendee=attendee(email="mallory@example.com\r\nBcc: x@example.com")),
            "attendee.email",
            id="email-header-injection",
        ),
        pytest.param(
            registration_body(attendee=attendee(email="x" * 10_000 + "@example.com")),
            "attendee.email",
            id="email-10000-chars",
        ),
        pytest.param(
            registration_body(attendee=attendee(email=DROP)), "attendee.email", id="email-missing"
        ),
    ],
)
def test_a_bad_registration_is_refused_with_422(loopgate, world, body, field_path):
    assert_refused(loopgate, world, Call("POST", REGISTER, json=body), 422, field_path)


@pytest.mark.parametrize("key", ["", "k" * 201], ids=["empty", "201-chars"])
def test_a_bad_idempotency_key_is_refused_with_422(loopgate, world, key):
    call = Call("POST", REGISTER, json=registration_body(), headers={"Idempotency-Key": key})
    assert_refused(loopgate, world, call, 422, "Idempotency-Key")


@pytest.mark.parametrize(
    "body, field_path",
    [
        pytest.param(scan_body(payload=DROP), "payload", id="payload-missing"),
        pytest.param(scan_body(payload=12345), "payload", id="payload-number"),
        pytest.param(scan_body(payload="LG1:" + "A" * 2000), "payload", id="payload-too-long"),
        pytest.param(scan_body(scan_id=DROP), "scan_id", id="scan_id-missing"),
        pytest.param(scan_body(scan_id=""), "scan_id", id="scan_id-empty"),
        pytest.param(scan_body(scan_id="s" * 101), "scan_id", id="scan_id-too-long"),
        pytest.param(scan_body(scan_id=7), "scan_id", id="scan_id-number"),
        pytest.param(scan_body(list_id="main-gate"), "list_id", id="list_id-not-uuid"),
        pytest.param(
            scan_body(scanned_at="2030-01-01T10:00:00"), "scanned_at", id="scanned_at-no-offset"
        ),
        pytest.param(scan_body(scanned_at="yesterday"), "scanned_at", id="scanned_at-text"),
        pytest.param(scan_body(direction="sideways"), "direction", id="direction-unknown"),
    ],
)
def test_a_bad_scan_is_refused_with_422(loopgate, world, body, field_path):
    call = Call("POST", SCANS, auth="organiser", json=body)
    assert_refused(loopgate, world, call, 422, field_path)


def test_a_scan_on_an_unknown_list_is_404(loopgate, world):
    call = Call("POST", SCANS, auth="organiser", json=scan_body(list_id="{unknown}"))
    assert_refused(loopgate, world, call, 404)


# --- ids in the path ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        Call("POST", "/api/registration/events/42/ticket-types", "organiser", ticket_type_body()),
        Call(
            "POST",
            "/api/registration/events/{unknown}/ticket-types",
            "organiser",
            ticket_type_body(),
        ),
        Call("POST", "/api/registration/events/not-a-uuid/publish", "organiser"),
        Call("POST", "/api/registration/events/{unknown}/publish", "organiser"),
        Call("POST", "/api/registration/events/{event}x/publish", "organiser"),
        Call("POST", "/api/registration/events/not-a-uuid/registrations", json=registration_body()),
        Call("POST", "/api/registration/events/{unknown}/registrations", json=registration_body()),
        Call("GET", "/api/registration/events/not-a-uuid"),
        Call("GET", "/api/registration/events/{unknown}"),
        Call("GET", "/api/registration/events/{draft_event}"),
        Call("GET", "/api/registration/registrations/1", params={"token": "{token_a}"}),
        Call("GET", "/api/registration/registrations/{unknown}", params={"token": "{token_a}"}),
        Call("POST", "/api/registration/registrations/1/cancel", params={"token": "{token_a}"}),
        Call(
            "POST",
            "/api/registration/registrations/{unknown}/cancel",
            params={"token": "{token_a}"},
        ),
        Call("GET", "/api/ticketing/registrations/1/ticket", params={"token": "{token_a}"}),
        Call("GET", "/api/ticketing/registrations/{unknown}/ticket", params={"token": "{token_a}"}),
        Call("GET", "/api/ticketing/tickets/..%2F..%2Fetc%2Fpasswd/qr.png", params={"key": "x"}),
        Call("GET", "/api/ticketing/tickets/{unknown}/qr.png", params={"key": "{key_a}"}),
        Call("GET", "/api/ticketing/tickets/{unknown}/qr.svg", params={"key": "{key_a}"}),
    ],
    ids=lambda call: f"{call.method} {call.path}",
)
def test_a_malformed_or_unknown_id_in_the_path_is_404(loopgate, world, call):
    assert_refused(loopgate, world, call, 404)


# --- events that cannot take registrations --------------------------------------------------


def test_registering_for_a_draft_event_is_404(loopgate, world):
    body = registration_body(ticket_type_id="{draft_ticket_type}")
    call = Call("POST", "/api/registration/events/{draft_event}/registrations", json=body)
    assert_refused(loopgate, world, call, 404)


def test_registering_after_the_event_has_ended_is_409(loopgate, world):
    body = registration_body(ticket_type_id="{ended_ticket_type}")
    call = Call("POST", "/api/registration/events/{ended_event}/registrations", json=body)
    assert_refused(loopgate, world, call, 409)


def test_publishing_an_event_without_ticket_types_is_409(loopgate, world):
    call = Call("POST", "/api/registration/events/{bare_event}/publish", "organiser")
    assert_refused(loopgate, world, call, 409)


# --- methods and paths ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        Call("PUT", EVENTS, "organiser", event_body()),
        Call("DELETE", "/api/registration/events/{event}", "organiser"),
        Call("PUT", "/api/registration/events/{event}", "organiser", {"status": "cancelled"}),
        Call("GET", TICKET_TYPES, "organiser"),
        Call("GET", PUBLISH, "organiser"),
        Call("DELETE", REGISTER, "organiser"),
        Call("DELETE", REGISTRATION_A, params={"token": "{token_a}"}),
        Call("PUT", REGISTRATION_A, json={"status": "confirmed"}, params={"token": "{token_a}"}),
        Call("GET", CANCEL_A, params={"token": "{token_a}"}),
        Call("POST", TICKET_A, params={"token": "{token_a}"}),
        Call("DELETE", QR_PNG_A, params={"key": "{key_a}"}),
        Call("GET", SCANS, "organiser"),
        Call("PUT", SCANS, "organiser", scan_body()),
    ],
    ids=lambda call: f"{call.method} {call.path}",
)
def test_a_wrong_method_is_405_with_allow(loopgate, world, call):
    response = assert_refused(loopgate, world, call, 405)
    allowed = [method.strip() for method in response.headers.get("Allow", "").split(",")]
    assert allowed != [""] and call.method not in allowed, response.headers


@pytest.mark.parametrize(
    "call",
    [
        Call("GET", "/api/registration/nope"),
        Call("POST", "/api/registration/nope", "organiser", event_body()),
        Call("GET", "/api/registration/events/{event}/nope"),
        Call("GET", "/api/ticketing/nope"),
        Call("GET", "/api/ticketing/tickets/{ticket_a}/qr.gif", params={"key": "{key_a}"}),
        Call("GET", "/api/checkin/nope"),
        Call("POST", "/api/checkin/scans/nope", "organiser", scan_body()),
        Call("GET", "/api/registrationx/events"),
        Call("GET", "/api/nope"),
        Call("GET", "/api"),
        Call("GET", "/no-such-page"),
        Call("POST", "/no-such-page", json={}),
    ],
    ids=lambda call: f"{call.method} {call.path}",
)
def test_an_unknown_path_is_404(loopgate, world, call):
    assert_refused(loopgate, world, call, 404)


# --- size -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        Call("POST", EVENTS, "organiser", event_body(title="x" * MIB)),
        Call("POST", TICKET_TYPES, "organiser", ticket_type_body(name="x" * MIB)),
        Call("POST", REGISTER, json=registration_body(attendee=attendee(name="x" * MIB))),
        Call("POST", SCANS, "organiser", scan_body(payload="x" * MIB)),
        # Routes that take no body must still refuse an oversized one, not ignore it.
        Call("POST", PUBLISH, "organiser", {"padding": "x" * MIB}),
        Call(
            "POST",
            "/api/registration/registrations/{reg_c}/cancel",
            json={"padding": "x" * MIB},
            params={"token": "{token_c}"},
        ),
    ],
    ids=lambda call: f"{call.method} {call.path}",
)
def test_a_body_over_one_mebibyte_is_413(loopgate, world, call):
    assert_refused(loopgate, world, call, 413)


# --- authentication and authorisation -------------------------------------------------------

ORGANISER_CALLS = [
    pytest.param(Call("POST", EVENTS, json=event_body()), id="create-event"),
    pytest.param(Call("POST", TICKET_TYPES, json=ticket_type_body()), id="add-ticket-type"),
    pytest.param(Call("POST", "/api/registration/events/{bare_event}/publish"), id="publish"),
    pytest.param(Call("GET", REGISTER), id="list-registrations"),
]
DOOR_CALLS = [
    pytest.param(Call("POST", SCANS, json=scan_body()), id="scan"),
    pytest.param(Call("GET", "/api/checkin/events/{event}/lists"), id="lists"),
    pytest.param(Call("GET", "/api/checkin/tickets/{ticket_a}"), id="roster-ticket"),
]


def _as(call: Call, auth: str | None) -> Call:
    return Call(call.method, call.path, auth, call.json, call.data, call.params, call.headers)


@pytest.mark.parametrize("auth", [None, "unknown", "empty_bearer", "basic"])
@pytest.mark.parametrize("call", ORGANISER_CALLS + DOOR_CALLS)
def test_without_a_valid_bearer_token_it_is_401(loopgate, world, call, auth):
    assert_refused(loopgate, world, _as(call, auth), 401)


@pytest.mark.parametrize("call", ORGANISER_CALLS)
def test_a_staff_token_on_organiser_routes_is_403(loopgate, world, call):
    assert_refused(loopgate, world, _as(call, "staff"), 403)


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(Call("POST", TICKET_TYPES, json=ticket_type_body()), id="add-ticket-type"),
        pytest.param(Call("POST", PUBLISH), id="publish"),
        pytest.param(
            Call("POST", "/api/registration/events/{draft_event}/publish"), id="publish-draft"
        ),
        pytest.param(Call("GET", REGISTER), id="list-registrations"),
        pytest.param(
            Call("GET", REGISTER, headers={"Accept": "text/csv"}), id="list-registrations-csv"
        ),
        pytest.param(Call("GET", "/api/checkin/events/{event}/lists"), id="lists"),
        pytest.param(Call("GET", "/api/checkin/tickets/{ticket_a}"), id="roster-ticket"),
        pytest.param(
            Call("POST", SCANS, json=scan_body(list_id="{default_list}")), id="scan-on-its-list"
        ),
    ],
)
def test_another_organisation_cannot_see_or_change_the_event(loopgate, world, call):
    response = assert_refused(loopgate, world, _as(call, "other_org"), 404)
    assert "Ada Lovelace" not in response.text


def test_another_organisation_cannot_check_in_its_tickets(loopgate, world):
    api = loopgate
    before = settle(api.system)
    response = send(api, world, _as(Call("POST", SCANS, json=scan_body()), "other_org"))
    after = settle(api.system)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["verdict"] == "wrong_event"
    assert "ticket" not in answer and "Ada Lovelace" not in response.text
    # The refused scan is recorded as a scan; nothing else (no admission, no event) may change.
    scans = before["checkin"]["scans"][0]
    assert changes(before, after) == [f"checkin.scans: {scans} rows -> {scans + 1}"]
    roster = api.roster_ticket(world.ids["ticket_a"]).json()
    assert roster["admissions"] == []


# --- attendee links: the manage token and the QR image key ----------------------------------

ATTENDEE_ROUTES = [
    pytest.param("GET", "/api/registration/registrations/{reg}", id="registration"),
    pytest.param("POST", "/api/registration/registrations/{reg}/cancel", id="cancel"),
    pytest.param("GET", "/api/ticketing/registrations/{reg}/ticket", id="ticket"),
]


@pytest.mark.parametrize("method, path", ATTENDEE_ROUTES)
@pytest.mark.parametrize(
    "params, auth",
    [
        pytest.param(None, None, id="no-token"),
        pytest.param({"token": ""}, None, id="empty-token"),
        pytest.param({"token": "guessed"}, None, id="wrong-token"),
        pytest.param({"token": "{token_a}"}, None, id="token-of-another-registration"),
        pytest.param(None, "organiser", id="organiser-bearer"),
    ],
)
def test_a_registration_opens_only_with_its_own_manage_token(
    loopgate, world, method, path, params, auth
):
    target = path.replace("{reg}", "{reg_b}")
    response = assert_refused(loopgate, world, Call(method, target, auth, params=params), 404)
    b = world.registrations["b"]
    for secret in (b["attendee"]["name"], b["attendee"]["email"], b["manage_token"]):
        assert secret not in response.text


@pytest.mark.parametrize("method, path", ATTENDEE_ROUTES)
def test_a_borrowed_manage_token_looks_exactly_like_an_unknown_registration(
    loopgate, world, method, path
):
    """Token A on registration B answers as token A on an id that does not exist: no oracle."""
    borrowed = Call(method, path.replace("{reg}", "{reg_b}"), params={"token": "{token_a}"})
    as_bearer = Call(
        method,
        path.replace("{reg}", "{reg_b}"),
        headers={"Authorization": "Bearer " + world.ids["token_a"]},
    )
    missing = Call(method, path.replace("{reg}", "{unknown}"), params={"token": "{token_a}"})
    answers = [
        assert_refused(loopgate, world, call, 404).json() for call in (borrowed, as_bearer, missing)
    ]
    assert answers[0] == answers[1] == answers[2]


@pytest.mark.parametrize("image", ["qr.png", "qr.svg"])
@pytest.mark.parametrize(
    "params",
    [
        pytest.param(None, id="no-key"),
        pytest.param({"key": ""}, id="empty-key"),
        pytest.param({"key": "guessed"}, id="wrong-key"),
        pytest.param({"key": "{key_b}"}, id="key-of-another-ticket"),
        pytest.param({"key": "{token_a}"}, id="manage-token-as-key"),
        pytest.param({"token": "{token_a}"}, id="manage-token-param"),
    ],
)
def test_a_qr_image_opens_only_with_its_own_key(loopgate, world, image, params):
    call = Call("GET", f"/api/ticketing/tickets/{{ticket_a}}/{image}", params=params)
    assert_refused(loopgate, world, call, 404)
