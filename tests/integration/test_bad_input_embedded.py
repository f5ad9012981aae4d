"""Bad input to the HTTP APIs, in embedded mode: a specification (DESIGN.md, "HTTP").

Whatever a client sends, a wrong request gets a clear 4xx `application/problem+json` with
`type`, `title` and `status` (and per-field `errors` for validation), never a 5xx, and it
changes nothing in any service's database (`assert_refused`, in hostile_requests.py, checks
exactly that every time). Hostile requests (tokens, other people's ids, server-owned fields,
oversized bodies, rate limits) are the security suite's: test_security_embedded.py.
"""

from datetime import timedelta

import pytest

from tests.integration.hostile_requests import (
    _STARTS,
    CANCEL_A,
    DROP,
    EVENTS,
    PUBLISH,
    QR_PNG_A,
    REGISTER,
    REGISTRATION_A,
    SCANS,
    TICKET_A,
    TICKET_TYPES,
    Call,
    assert_refused,
    attendee,
    event_body,
    registration_body,
    scan_body,
    ticket_type_body,
)

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
            event_body(starts_at="0001-01-01T00:00:00+00:01"),
            "starts_at",
            id="starts_at-before-year-1-in-utc",
        ),
        pytest.param(
            event_body(starts_at="9999-12-31T23:00:00Z", ends_at="9999-12-31T23:59:00Z"),
            "starts_at",
            id="starts_at-year-9999",
        ),
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
