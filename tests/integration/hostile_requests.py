"""Hostile and wrong requests against a whole embedded Loopgate: what the bad-input and the
security suites share (test_bad_input_embedded.py, test_security_embedded.py).

The `loopgate` and `world` fixtures (registered in conftest.py) give each module one embedded
Loopgate and the events, registrations and tickets the requests aim at; `assert_refused`
sends a request and checks that it is answered with the expected problem+json and that it
changed nothing in any service's database: every table of every service, the outbox and
inbox included, holds the same rows after the request as before it.
"""

import hashlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from services.registration.models import mail_outbox as registration_mail_outbox
from services.ticketing.models import mail_outbox as ticketing_mail_outbox
from shared.auth import DEFAULT_ORGANISATION, ORGANISER, STAFF, Principal, ensure_token
from shared.mail import outbox as mail_outbox
from tests.support import ORGANISER_TOKEN, CoreFlow, embedded_loopgate

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
    """A whole embedded Loopgate (conftest's `embedded`), once for the module: a fresh one
    per test would cost seconds each, and none of these requests may change it."""
    with embedded_loopgate(tmp_path_factory.mktemp("loopgate")) as flow:
        yield flow


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
    # o holds a ticket of another event; n one of an event a week away (not valid yet).
    next_week, next_week_ticket_type = api.published_event(
        starts_in=timedelta(days=7), title="Next Week"
    )
    registrations["o"] = api.registered(other_event, other_ticket_type, name="Olga Other")
    registrations["n"] = api.registered(next_week, next_week_ticket_type, name="Nell Next")
    tickets = {name: api.wait_for_ticket(reg) for name, reg in registrations.items()}
    for ticket in tickets.values():
        api.wait_until_in_roster(ticket["id"])
    lists = api.get(f"/api/checkin/events/{event}/lists", headers=api.organiser)
    assert lists.status_code == 200, lists.text
    default_list = next(item["id"] for item in lists.json() if item["is_default"])
    time_slot = _created(api, f"/api/registration/events/{event}/sessions", SESSION)
    question = _created(api, f"/api/registration/events/{event}/questions", QUESTION)
    code = _created(api, f"/api/checkin/lists/{default_list}/pairing-codes", None)["code"]
    device = api.post("/api/checkin/pairing-codes/redeem", json={"code": code})
    assert device.status_code == 201, device.text

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
        "session": time_slot["id"],
        "question": question["id"],
        "device": device.json()["device_id"],
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


SESSION = {
    "title": "Keynote",
    "starts_at": (datetime.now(UTC) + timedelta(hours=2)).isoformat(),
    "ends_at": (datetime.now(UTC) + timedelta(hours=3)).isoformat(),
    "capacity": 5,
}
QUESTION = {"kind": "text", "label": "Anything we should know?"}


def _created(api: CoreFlow, path: str, body: dict | None) -> dict:
    response = api.post(path, json=body, headers=api.organiser)
    assert response.status_code == 201, response.text
    return response.json()


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
    """Wait until no event is on its way between services and no mail waits for a service's
    mail relay (which changes its row as it sends, and ticketing's stores QR images), then
    return the snapshot."""
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


# Each service that mails keeps its own mail outbox (registration: the attendee's status
# mails and the team's; ticketing: the tickets).
MAIL_OUTBOXES = {"registration": registration_mail_outbox, "ticketing": ticketing_mail_outbox}


def mail_waiting(system) -> bool:
    for service, table in MAIL_OUTBOXES.items():
        with system.runtimes[service].session_factory() as session:
            waiting = select(table.c.id).where(table.c.status == mail_outbox.PENDING)
            if session.scalar(waiting.limit(1)) is not None:
                return True
    return False


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
