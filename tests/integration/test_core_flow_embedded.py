"""The core flow of DESIGN.md in embedded mode: register, get a signed ticket, scan it."""

import base64

from shared.tokens import base45_decode, base45_encode
from tests.support import wait_until


def test_a_registration_becomes_a_ticket_that_scans_once(embedded):
    event_id, ticket_type_id = embedded.published_event(quota=5)
    registration = embedded.registered(event_id, ticket_type_id, name="陳大文")
    assert registration["status"] == "confirmed"

    ticket = embedded.wait_for_ticket(registration)
    assert ticket["status"] == "valid"
    assert ticket["payload"].startswith("LG1:")
    embedded.wait_until_in_roster(ticket["id"])

    first = embedded.scan(ticket["payload"])
    assert first["verdict"] == "ok"
    assert first["ticket"]["attendee_name"] == "陳大文"
    again = embedded.scan(ticket["payload"])
    assert again["verdict"] == "already_checked_in"
    assert again["previous"]["gate"] == "Main entrance"


def test_an_erased_attendee_is_erased_in_every_service_and_can_still_come_in(embedded):
    event_id, ticket_type_id = embedded.published_event(quota=5)
    registration = embedded.registered(event_id, ticket_type_id, name="陳大文")
    ticket = embedded.wait_for_ticket(registration)
    embedded.wait_until_in_roster(ticket["id"])

    assert embedded.erase(registration).status_code == 200

    wait_until(
        lambda: embedded.wait_for_ticket(registration)["attendee_name"] == "[erased]",
        15,
        "the ticket erased in ticketing",
    )
    wait_until(
        lambda: embedded.roster_ticket(ticket["id"]).json()["attendee_name"] == "[erased]",
        15,
        "the ticket erased in the check-in roster",
    )
    answer = embedded.scan(ticket["payload"])
    assert (answer["verdict"], answer["ticket"]["attendee_name"]) == ("ok", "[erased]")


def test_an_altered_ticket_is_invalid(embedded):
    event_id, ticket_type_id = embedded.published_event()
    ticket = embedded.wait_for_ticket(embedded.registered(event_id, ticket_type_id))
    embedded.wait_until_in_roster(ticket["id"])
    raw = bytearray(base45_decode(ticket["payload"][4:]))
    raw[20] ^= 0x01
    assert embedded.scan("LG1:" + base45_encode(bytes(raw)))["verdict"] == "invalid"
    assert embedded.scan(base64.b64encode(b"hello").decode())["verdict"] == "invalid"


def test_beyond_the_quota_attendees_are_waitlisted_never_oversold(embedded):
    event_id, ticket_type_id = embedded.published_event(quota=2)
    statuses = [embedded.registered(event_id, ticket_type_id)["status"] for _ in range(4)]
    assert statuses == ["confirmed", "confirmed", "waitlisted", "waitlisted"]
    event = embedded.get(f"/api/registration/events/{event_id}").json()
    assert event["ticket_types"][0]["remaining"] == 0


def test_cancelling_revokes_the_ticket_and_promotes_the_waitlist(embedded):
    event_id, ticket_type_id = embedded.published_event(quota=1)
    first = embedded.registered(event_id, ticket_type_id)
    waiting = embedded.registered(event_id, ticket_type_id)
    assert waiting["status"] == "waitlisted"
    ticket = embedded.wait_for_ticket(first)
    embedded.wait_until_in_roster(ticket["id"])

    cancelled = embedded.cancel(first)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"

    embedded_wait = embedded.wait_for_ticket(waiting)
    assert embedded_wait["status"] == "valid"
    promoted = embedded.get(
        f"/api/registration/registrations/{waiting['id']}",
        params={"token": waiting["manage_token"]},
    ).json()
    assert promoted["status"] == "confirmed"

    from tests.support import wait_until

    wait_until(
        lambda: embedded.roster_ticket(ticket["id"]).json()["status"] == "revoked", 10, "revocation"
    )
    assert embedded.scan(ticket["payload"])["verdict"] == "revoked"


def test_a_retried_registration_with_the_same_key_is_one_registration(embedded):
    event_id, ticket_type_id = embedded.published_event(quota=3)
    request = {"email": "ada@example.com", "idempotency_key": "submit-1"}
    first = embedded.register(event_id, ticket_type_id, **request)
    retried = embedded.register(event_id, ticket_type_id, **request)
    assert first.status_code == retried.status_code == 201
    assert retried.json()["id"] == first.json()["id"]
    assert retried.headers["Idempotent-Replayed"] == "true"
    listed = embedded.get(
        f"/api/registration/events/{event_id}/registrations", headers=embedded.organiser
    ).json()
    assert len(listed) == 1


def test_a_scan_id_seen_before_gets_its_first_answer(embedded):
    event_id, ticket_type_id = embedded.published_event()
    ticket = embedded.wait_for_ticket(embedded.registered(event_id, ticket_type_id))
    embedded.wait_until_in_roster(ticket["id"])
    assert embedded.scan(ticket["payload"], scan_id="door-1-0001")["verdict"] == "ok"
    assert embedded.scan(ticket["payload"], scan_id="door-1-0001")["verdict"] == "ok"
    assert (
        embedded.scan(ticket["payload"], scan_id="door-1-0002")["verdict"] == "already_checked_in"
    )


def test_the_organiser_exports_registrations_as_csv_excel_can_read(embedded):
    event_id, ticket_type_id = embedded.published_event()
    embedded.registered(event_id, ticket_type_id, name="李小龍")
    response = embedded.get(
        f"/api/registration/events/{event_id}/registrations",
        headers={**embedded.organiser, "Accept": "text/csv"},
    )
    assert response.headers["Content-Type"].startswith("text/csv")
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    assert "李小龍" in text


def test_a_link_secret_with_any_characters_is_just_a_wrong_secret(embedded):
    event_id, ticket_type_id = embedded.published_event()
    registration = embedded.registered(event_id, ticket_type_id)
    ticket = embedded.wait_for_ticket(registration)
    for path, params in (
        (f"/api/registration/registrations/{registration['id']}", {"token": "\u0080é票"}),
        (f"/api/ticketing/tickets/{ticket['id']}/qr.png", {"key": "\u0080é票"}),
    ):
        response = embedded.get(path, params=params)
        assert response.status_code == 404
        assert response.headers["Content-Type"] == "application/problem+json"
