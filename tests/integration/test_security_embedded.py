"""Hostile requests, in embedded mode: the security specification (issue #8; DESIGN.md,
"HTTP" and "Ticket tokens"). Each section says what must hold. Where a case is specified in
another suite it is named here, not repeated.

- Ticket tokens: a forged or altered code is `invalid`, a genuine code of another event
  `wrong_event`, a code outside its window `not_yet_valid` or `expired`. Every byte, character
  and claim: tests/unit/test_tokens.py and tests/unit/test_checkin_verdicts.py; a flipped
  byte end to end: test_core_flow_embedded.py; door staff of another event:
  test_checkin_api_embedded.py (test_a_paired_device_scans_its_event_and_nothing_else...).
- Roles: no token or a wrong one is 401; a door device's staff token on organiser routes is
  403 (registration's with unknown ids: test_registration_api_embedded.py, ticketing's:
  test_ticketing_embedded.py, pairing codes: test_checkin_api_embedded.py).
- Other people's objects (BOLA): another organisation's organiser finds nothing of ours (404,
  as if it did not exist; ticketing's keys and tickets: test_ticketing_embedded.py); an
  attendee's manage token opens only their registration, a QR image or ticket page key only its
  ticket (the HTML manage page: test_registration_pages_embedded.py).
- Mass assignment: server-owned fields (ids, status, counts, tokens, owners) in a body are
  refused with 422 naming the field, as unknown fields are (every schema is strict); nothing
  changes.
- Oversized bodies are 413 problem+json before anything is done, a gzip body that inflates
  past its bound too.
- Rate limits: public registration and pairing-code redemption answer 429 problem+json with
  Retry-After beyond the rate.

Every refusal is checked by `assert_refused` (hostile_requests.py): the expected status as
problem+json, and no change in any service's database.
"""

import gzip
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.tokens import FORMAT_TAG, PREFIX, base45_decode, base45_encode
from tests.integration.hostile_requests import (
    EVENT_PATH,
    EVENTS,
    MIB,
    PROBLEM_JSON,
    PUBLISH,
    QUESTION,
    REGISTER,
    REGISTRATION_A,
    SCANS,
    SESSION,
    TICKET_TYPES,
    UNKNOWN_ID,
    Call,
    assert_refused,
    attendee,
    changes,
    event_body,
    registration_body,
    scan_body,
    send,
    settle,
    ticket_type_body,
)
from tests.support import embedded_loopgate

LISTS = "/api/checkin/events/{event}/lists"
GATE = "/api/checkin/lists/{default_list}"
TICKET_TYPE = "/api/registration/ticket-types/{ticket_type}"
QUESTION_PATH = "/api/registration/questions/{question}"
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


@pytest.mark.parametrize(
    "call, field_path",
    [
        pytest.param(
            Call("POST", LISTS, "organiser", {"name": "Side door", "id": "{unknown}"}),
            "id",
            id="gate-id",
        ),
        pytest.param(
            Call("POST", LISTS, "organiser", {"name": "Side door", "event_id": "{other_event}"}),
            "event_id",
            id="gate-event_id",
        ),
        pytest.param(
            Call("POST", LISTS, "organiser", {"name": "Side door", "is_default": True}),
            "is_default",
            id="gate-is_default",
        ),
        pytest.param(
            Call("PATCH", "/api/checkin/lists/{default_list}", "organiser", {"is_default": False}),
            "is_default",
            id="gate-change-is_default",
        ),
        pytest.param(
            Call("PATCH", TICKET_TYPE, "organiser", {"confirmed_count": 0}),
            "confirmed_count",
            id="ticket-type-change-confirmed_count",
        ),
        pytest.param(
            Call("PATCH", "/api/registration/sessions/{session}", "organiser", {"taken": 0}),
            "taken",
            id="session-change-taken",
        ),
        pytest.param(
            Call(
                "POST",
                "/api/checkin/pairing-codes/redeem",
                json={"code": "AAAA-AAAA", "event_id": "{other_event}"},
            ),
            "event_id",
            id="pairing-event_id",
        ),
    ],
)
def test_server_owned_fields_of_gates_and_changes_are_refused_with_422(
    loopgate, world, call, field_path
):
    assert_refused(loopgate, world, call, 422, field_path)


# --- size -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        Call("POST", EVENTS, "organiser", event_body(title="x" * MIB)),
        Call("POST", TICKET_TYPES, "organiser", ticket_type_body(name="x" * MIB)),
        Call("POST", REGISTER, json=registration_body(attendee=attendee(name="x" * MIB))),
        Call("POST", SCANS, "organiser", scan_body(payload="x" * MIB)),
        Call("POST", LISTS, "organiser", {"name": "x" * MIB}),
        Call("POST", "/api/checkin/pairing-codes/redeem", json={"code": "x" * MIB}),
        Call("POST", "/api/ticketing/tickets/{ticket_c}/reissue", "organiser", {"x": "x" * MIB}),
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


def test_a_gzip_body_that_inflates_past_its_bound_is_413(loopgate, world):
    """A few kB of gzip that would inflate to 64 MiB of JSON (checkin/compressed_uploads)."""
    bomb = gzip.compress(b'{"scans": ["' + b"x" * (64 * MIB) + b'"]}', compresslevel=9)
    assert len(bomb) < MIB
    call = Call(
        "POST",
        "/api/checkin/scans/batch",
        "organiser",
        data=bomb,
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
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


CHECKIN_ORGANISER_CALLS = [
    pytest.param(Call("POST", LISTS, json={"name": "Side door"}), id="add-gate"),
    pytest.param(Call("PATCH", GATE, json={"name": "Back door"}), id="change-gate"),
    pytest.param(Call("DELETE", GATE), id="delete-gate"),
    pytest.param(Call("GET", "/api/checkin/events/{event}/devices"), id="devices"),
    pytest.param(Call("POST", "/api/checkin/devices/{device}/revoke"), id="revoke-device"),
    pytest.param(Call("GET", "/api/checkin/events/{event}/stats"), id="stats"),
    pytest.param(Call("GET", "/api/checkin/events/{event}/stats/live"), id="live-stats"),
    pytest.param(Call("GET", "/api/checkin/events/{event}/scans.csv"), id="scans-csv"),
]


@pytest.mark.parametrize("call", ORGANISER_CALLS + CHECKIN_ORGANISER_CALLS)
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
        pytest.param(Call("GET", "/api/registration/organisation/events/{event}"), id="event"),
        pytest.param(Call("PATCH", EVENT_PATH, json={"title": "Ours now"}), id="change-event"),
        pytest.param(Call("POST", EVENT_PATH + "/unpublish"), id="unpublish"),
        pytest.param(Call("POST", EVENT_PATH + "/cancel"), id="cancel-event"),
        pytest.param(Call("POST", EVENT_PATH + "/sessions", json=SESSION), id="add-session"),
        pytest.param(Call("POST", EVENT_PATH + "/questions", json=QUESTION), id="add-question"),
        pytest.param(Call("PATCH", TICKET_TYPE, json={"quota": 1}), id="change-ticket-type"),
        pytest.param(
            Call("PATCH", "/api/registration/sessions/{session}", json={"title": "Ours"}),
            id="change-session",
        ),
        pytest.param(
            Call("PATCH", QUESTION_PATH, json={"label": "Your password?"}), id="change-question"
        ),
        pytest.param(Call("DELETE", QUESTION_PATH), id="delete-question"),
        pytest.param(Call("POST", REGISTRATION_A + "/approve"), id="approve"),
        pytest.param(Call("POST", REGISTRATION_A + "/reject"), id="reject"),
        pytest.param(Call("POST", REGISTRATION_A + "/erase"), id="erase"),
        *CHECKIN_ORGANISER_CALLS,
        pytest.param(Call("POST", "/api/checkin/lists/{default_list}/pairing-codes"), id="pair"),
        pytest.param(Call("GET", "/api/checkin/events/{event}/bundle"), id="bundle"),
        pytest.param(
            Call("GET", "/api/checkin/events/{event}/tickets", params={"q": "Ada"}), id="search"
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


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(
            Call("PATCH", "/api/registration/registrations/{reg_b}", json={"answers": {}}),
            id="change-answers",
        ),
        pytest.param(Call("POST", "/api/registration/registrations/{reg_b}/claim"), id="claim"),
    ],
)
def test_a_registration_changes_only_with_its_own_manage_token(loopgate, world, call):
    for params in ({"token": "{token_a}"}, {"token": "guessed"}):
        borrowed = Call(call.method, call.path, json=call.json, params=params)
        response = assert_refused(loopgate, world, borrowed, 404)
        assert "Bartholomew" not in response.text


@pytest.mark.parametrize(
    "path, params",
    [
        pytest.param(
            "/api/ticketing/pages/registrations/{reg_b}/ticket",
            {"token": "{token_a}"},
            id="manage-token-of-another",
        ),
        pytest.param("/api/ticketing/pages/tickets/{ticket_b}", {"key": "{key_a}"}, id="key-a"),
        pytest.param("/api/ticketing/pages/tickets/{ticket_b}", {"token": "{token_b}"}, id="token"),
    ],
)
def test_a_ticket_page_opens_only_with_its_own_secret(loopgate, world, path, params):
    before = settle(loopgate.system)
    page = send(loopgate, world, Call("GET", path, params=params))
    assert page.status_code == 404
    assert world.ids["payload_b"] not in page.text and "Bartholomew" not in page.text
    assert not changes(before, settle(loopgate.system))


# --- ticket tokens --------------------------------------------------------------------------

SIGNED_BYTES = 60  # key id, event, ticket, ticket type, validity (docs/architecture.md)
EVENT_BYTES = slice(4, 20)


def _parts(payload: str) -> tuple[bytes, bytes]:
    raw = base45_decode(payload.removeprefix(PREFIX))
    return raw[:SIGNED_BYTES], raw[SIGNED_BYTES:]


def _token(signed: bytes, signature: bytes) -> str:
    return PREFIX + base45_encode(signed + signature)


def forged_with_own_key(world) -> str:
    """Ticket a's very claims, real key id included, signed with the forger's own key."""
    signed, _ = _parts(world.ids["payload_a"])
    return _token(signed, Ed25519PrivateKey.generate().sign(FORMAT_TAG.encode() + signed))


def claims_of_b_with_signature_of_a(world) -> str:
    return _token(_parts(world.ids["payload_b"])[0], _parts(world.ids["payload_a"])[1])


def moved_to_another_event(world) -> str:
    """Ticket o (of the other event) rewritten to name this event, its signature kept."""
    signed, signature = _parts(world.ids["payload_o"])
    event = bytes.fromhex(world.ids["event"].replace("-", ""))
    return _token(signed[: EVENT_BYTES.start] + event + signed[EVENT_BYTES.stop :], signature)


@pytest.mark.parametrize(
    "forge", [forged_with_own_key, claims_of_b_with_signature_of_a, moved_to_another_event]
)
def test_a_forged_or_altered_ticket_is_invalid_and_names_nobody(loopgate, world, forge):
    answer = loopgate.scan(forge(world), list_id=world.ids["default_list"])
    assert answer["verdict"] == "invalid"
    assert "ticket" not in answer


def test_a_genuine_ticket_of_another_event_is_for_the_wrong_event(loopgate, world):
    answer = loopgate.scan(world.ids["payload_o"], list_id=world.ids["default_list"])
    assert answer["verdict"] == "wrong_event"


def test_a_ticket_before_its_doors_open_is_not_yet_valid(loopgate, world):
    answer = loopgate.scan(world.ids["payload_n"])  # its event starts in a week
    assert answer["verdict"] == "not_yet_valid"
    assert answer["window"]


def test_a_ticket_scanned_after_its_event_has_ended_has_expired(loopgate, world):
    """An offline scan is judged at the time it was made: here, after the event's end."""
    after_the_end = datetime.now(UTC) + timedelta(days=1)
    answer = loopgate.scan(world.ids["payload_a"], scanned_at=after_the_end.isoformat())
    assert answer["verdict"] == "expired"
    assert loopgate.roster_ticket(world.ids["ticket_a"]).json()["admissions"] == []


# --- rate limits ----------------------------------------------------------------------------


def test_registering_and_pairing_beyond_the_rate_get_429_problem_json(tmp_path):
    with embedded_loopgate(tmp_path, rate_limit="3/minute") as flow:
        event_id, ticket_type_id = flow.published_event(quota=10)
        registering = [flow.register(event_id, ticket_type_id) for _ in range(4)]
        guessing = [
            flow.post("/api/checkin/pairing-codes/redeem", json={"code": f"AAAA-AAA{n}"})
            for n in range(4)
        ]
        # Reading and organiser routes are not limited.
        assert flow.get(f"/api/registration/events/{event_id}").status_code == 200
        assert flow.published_event(quota=1)
    assert [r.status_code for r in registering] == [201, 201, 201, 429]
    assert [r.status_code for r in guessing] == [404, 404, 404, 429]
    for limited in (registering[-1], guessing[-1]):
        assert limited.headers["Content-Type"] == PROBLEM_JSON
        assert limited.json()["type"] == "urn:loopgate:problem:rate-limited"
        assert "Retry-After" in limited.headers
