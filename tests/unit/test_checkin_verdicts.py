"""Check-in verdicts: what door staff see when they scan a ticket (DESIGN.md, "Check-in verdicts").

Runs services/checkin/service.py against a real migrated SQLite database. The roster is fed
the way the worker feeds it, through record_event, add_to_roster and revoke with event data
as the bus delivers it; tickets are signed with real Ed25519 keys.
"""

import uuid
from datetime import timedelta

import pytest

from shared.errors import NotFound
from shared.tokens import PREFIX, base45_decode, base45_encode, new_signing_key
from tests.unit.domain_fixtures import (
    DOORS_OPEN_MARGIN,
    DURING_THE_SHOW,
    NORTHWIND,
    SHOW_ENDS,
    SHOW_STARTS,
    SOUTHWIND,
    staff_of,
)

pytest_plugins = ["tests.unit.domain_fixtures"]

SECOND = timedelta(seconds=1)


def altered(payload: str, start: int, end: int, replacement: bytes) -> str:
    """The token with raw bytes [start:end) replaced, re-encoded so it still reads cleanly."""
    raw = bytearray(base45_decode(payload[len(PREFIX) :]))
    raw[start:end] = replacement
    return PREFIX + base45_encode(bytes(raw))


# --- ok ------------------------------------------------------------------------------------


def test_a_valid_ticket_is_admitted_and_shows_who_it_is_for(door):
    event = door.event()
    ticket = door.issue(event, attendee_name="Grace Hopper")

    answer = door.scan(ticket.payload)

    assert answer["verdict"] == "ok"
    assert answer["list_id"] == door.default_list(event)
    assert answer["ticket"] == {
        "id": str(ticket.id),
        "event_id": str(event.id),
        "attendee_name": "Grace Hopper",
        "ticket_type_id": str(event.ticket_type("General")),
        "ticket_type_name": "General",
    }


def test_door_staff_paired_to_the_event_admit_its_tickets(door):
    event = door.event()
    ticket = door.issue(event)

    assert door.scan(ticket.payload, by=staff_of(event.id))["verdict"] == "ok"


# --- already_checked_in --------------------------------------------------------------------


def test_a_second_entry_is_refused_saying_when_and_at_which_gate_the_ticket_came_in(door):
    event = door.event()
    east_gate = door.add_list(event, "East gate")
    ticket = door.issue(event)
    first_entry = DURING_THE_SHOW

    door.scan(ticket.payload, list_id=east_gate, at=first_entry, scan_id="east-1")
    answer = door.scan(ticket.payload, list_id=east_gate, at=first_entry + timedelta(minutes=30))

    assert answer["verdict"] == "already_checked_in"
    assert answer["previous"] == {
        "scanned_at": first_entry.isoformat(),
        "list_id": east_gate,
        "gate": "East gate",
        "scan_id": "east-1",
    }
    assert answer["ticket"]["id"] == str(ticket.id)


# --- revoked -------------------------------------------------------------------------------


def test_a_revoked_ticket_is_refused(door):
    event = door.event()
    ticket = door.issue(event)
    door.revoke(ticket)

    answer = door.scan(ticket.payload)

    assert answer["verdict"] == "revoked"
    assert answer["ticket"]["id"] == str(ticket.id)


def test_revoked_outranks_already_checked_in(door):
    event = door.event()
    ticket = door.issue(event)
    assert door.scan(ticket.payload)["verdict"] == "ok"
    door.revoke(ticket)

    answer = door.scan(ticket.payload, at=DURING_THE_SHOW + timedelta(minutes=5))

    assert answer["verdict"] == "revoked"


# --- invalid -------------------------------------------------------------------------------

# Raw token layout (shared/tokens.py): key id 0-4, event 4-20, ticket 20-36, ticket type
# 36-52, valid from 52-56, valid until 56-60, then the 64-byte signature.
TICKET_TYPE_BYTES = (36, 52)
VALID_UNTIL_BYTES = (56, 60)
SIGNATURE_BYTES = (60, 124)


def test_a_ticket_upgraded_to_another_ticket_type_is_invalid(door):
    event = door.event()
    ticket = door.issue(event, ticket_type="General")
    backstage = event.ticket_type("Backstage").bytes

    answer = door.scan(altered(ticket.payload, *TICKET_TYPE_BYTES, backstage))

    assert answer == {"verdict": "invalid", "scan_id": answer["scan_id"]}


def test_a_ticket_with_its_validity_stretched_is_invalid(door):
    event = door.event()
    ticket = door.issue(event)
    a_year_later = int((SHOW_ENDS + timedelta(days=365)).timestamp()).to_bytes(4, "big")

    answer = door.scan(
        altered(ticket.payload, *VALID_UNTIL_BYTES, a_year_later),
        at=SHOW_ENDS + timedelta(days=1),
    )

    assert answer["verdict"] == "invalid"


def test_a_ticket_with_a_tampered_signature_is_invalid(door):
    event = door.event()
    ticket = door.issue(event)

    answer = door.scan(altered(ticket.payload, *SIGNATURE_BYTES, bytes(64)))

    assert answer["verdict"] == "invalid"


def test_the_very_token_ticketing_issued_is_known_by_its_digest_without_its_signature(door):
    event = door.event()
    # Under the event's key id, but signed by another private key: the signature would fail.
    _, other_private_key = new_signing_key()
    ticket = door.issue(event, key=(event.key_id, other_private_key))

    assert door.scan(ticket.payload)["verdict"] == "ok"
    assert door.scan(altered(ticket.payload, *SIGNATURE_BYTES, bytes(64)))["verdict"] == (
        "invalid"
    ), "any other code still needs a signature the door can check"


def test_a_ticket_from_a_producer_that_sends_no_digest_is_checked_by_its_signature(door):
    event = door.event()
    ticket = door.issue(event, with_token_digest=False)
    other = door.issue(event, with_token_digest=False)

    assert door.scan(ticket.payload)["verdict"] == "ok"
    assert door.scan(altered(other.payload, *SIGNATURE_BYTES, bytes(64)))["verdict"] == "invalid"


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "hello",
        "https://example.com/ticket",
        "LG1:",
        "LG1:!!!",
        "LG1:lowercase",
        "LG1:" + "A" * 183,  # readable base45, but two bytes short of a ticket
        "LG2:ABC",
    ],
)
def test_an_unreadable_code_is_invalid(door, garbage):
    door.event()

    assert door.scan(garbage)["verdict"] == "invalid"


# --- unknown_ticket ------------------------------------------------------------------------


def test_a_genuine_ticket_that_never_reached_the_roster_is_unknown(door):
    event = door.event()
    door.issue(event)  # the event's key reaches the door with its first ticket
    not_delivered = door.signed_ticket(event)

    answer = door.scan(not_delivered.payload)

    assert answer["verdict"] == "unknown_ticket"
    assert "ticket" not in answer


def test_a_ticket_signed_with_a_key_the_roster_never_received_is_unknown(door):
    event = door.event()
    door.issue(event)
    signed_with_new_key = door.signed_ticket(event, key=new_signing_key())

    assert door.scan(signed_with_new_key.payload)["verdict"] == "unknown_ticket"


# --- wrong_event ---------------------------------------------------------------------------


def test_a_ticket_scanned_at_a_list_of_another_event_is_for_the_wrong_event(door):
    tonight = door.event()
    tomorrow = door.event(
        starts_at=SHOW_STARTS + timedelta(days=1), ends_at=SHOW_ENDS + timedelta(days=1)
    )
    ticket = door.issue(tonight)

    answer = door.scan(ticket.payload, list_id=door.default_list(tomorrow))

    assert answer["verdict"] == "wrong_event"
    assert "ticket" not in answer


def test_an_organiser_of_another_organisation_gets_wrong_event_and_learns_nothing(door):
    event = door.event(organisation_id=NORTHWIND.organisation_id)
    ticket = door.issue(event, attendee_name="Grace Hopper")

    answer = door.scan(ticket.payload, by=SOUTHWIND)

    assert answer == {"verdict": "wrong_event", "scan_id": answer["scan_id"]}


def test_door_staff_paired_to_another_event_get_wrong_event(door):
    tonight = door.event()
    tomorrow = door.event(
        starts_at=SHOW_STARTS + timedelta(days=1), ends_at=SHOW_ENDS + timedelta(days=1)
    )
    ticket = door.issue(tonight)

    answer = door.scan(ticket.payload, by=staff_of(tomorrow.id))

    assert answer == {"verdict": "wrong_event", "scan_id": answer["scan_id"]}


# --- not_allowed_here ----------------------------------------------------------------------


def test_a_ticket_type_not_on_the_list_is_not_allowed_here(door):
    event = door.event(ticket_types=("General", "Backstage"))
    backstage_door = door.add_list(event, "Backstage door", ticket_types=("Backstage",))
    general = door.issue(event, ticket_type="General")
    crew = door.issue(event, ticket_type="Backstage")

    refused = door.scan(general.payload, list_id=backstage_door)

    assert refused["verdict"] == "not_allowed_here"
    assert refused["ticket"]["ticket_type_name"] == "General"
    assert door.scan(crew.payload, list_id=backstage_door)["verdict"] == "ok"
    # Being turned away at one gate is no entry: the main entrance still admits the ticket.
    assert door.scan(general.payload)["verdict"] == "ok"


# --- the validity window -------------------------------------------------------------------


def test_a_ticket_scanned_before_the_early_entry_margin_is_not_yet_valid(door):
    event = door.event(early_entry=DOORS_OPEN_MARGIN)
    ticket = door.issue(event)

    answer = door.scan(ticket.payload, at=SHOW_STARTS - DOORS_OPEN_MARGIN - SECOND)

    assert answer["verdict"] == "not_yet_valid"
    assert answer["ticket"]["id"] == str(ticket.id)


def test_a_ticket_scans_from_exactly_the_early_entry_margin_before_the_start(door):
    event = door.event(early_entry=DOORS_OPEN_MARGIN)
    ticket = door.issue(event)

    assert door.scan(ticket.payload, at=SHOW_STARTS - DOORS_OPEN_MARGIN)["verdict"] == "ok"


def test_an_organiser_set_early_entry_margin_moves_when_doors_open(door):
    event = door.event(early_entry=timedelta(minutes=30))
    ticket = door.issue(event)

    an_hour_early = door.scan(ticket.payload, at=SHOW_STARTS - timedelta(hours=1))
    half_an_hour_early = door.scan(ticket.payload, at=SHOW_STARTS - timedelta(minutes=30))

    assert an_hour_early["verdict"] == "not_yet_valid"
    assert half_an_hour_early["verdict"] == "ok"


def test_a_ticket_scanned_after_the_event_ended_has_expired(door):
    event = door.event()
    ticket = door.issue(event)

    answer = door.scan(ticket.payload, at=SHOW_ENDS + SECOND)

    assert answer["verdict"] == "expired"


def test_a_ticket_still_scans_at_the_moment_the_event_ends(door):
    event = door.event()
    ticket = door.issue(event)

    assert door.scan(ticket.payload, at=SHOW_ENDS)["verdict"] == "ok"


def test_an_offline_scan_is_judged_at_the_time_it_was_made_not_when_it_is_uploaded(door):
    event = door.event()
    ticket = door.issue(event)

    answer = door.scan(
        ticket.payload, scanned_at=DURING_THE_SHOW, at=SHOW_ENDS + timedelta(hours=3)
    )

    assert answer["verdict"] == "ok"


# --- scan ids ------------------------------------------------------------------------------


def test_a_repeated_scan_id_returns_its_first_answer_and_is_recorded_once(door):
    event = door.event()
    ticket = door.issue(event)

    first = door.scan(ticket.payload, scan_id="phone-7-0001")
    retried = door.scan(ticket.payload, scan_id="phone-7-0001", at=DURING_THE_SHOW + SECOND)

    assert first["verdict"] == "ok"
    assert retried == first
    assert door.scans_recorded("phone-7-0001") == 1
    assert door.scans_recorded() == 1
    assert len(door.published("checkin.recorded")) == 1


def test_a_scan_id_used_by_another_organisation_does_not_reveal_their_scan(door):
    northwind_event = door.event(organisation_id=NORTHWIND.organisation_id)
    southwind_event = door.event(organisation_id=SOUTHWIND.organisation_id)
    northwind_ticket = door.issue(northwind_event, attendee_name="Grace Hopper")
    southwind_ticket = door.issue(southwind_event, attendee_name="Alan Turing")
    door.scan(northwind_ticket.payload, by=NORTHWIND, scan_id="1")

    answer = door.scan(southwind_ticket.payload, by=SOUTHWIND, scan_id="1")

    assert "Grace Hopper" not in str(answer)
    assert answer["verdict"] == "ok"
    assert answer["ticket"]["id"] == str(southwind_ticket.id)


# --- what a scan publishes -----------------------------------------------------------------


def test_every_scan_of_a_known_ticket_publishes_checkin_recorded_with_its_verdict(door):
    event = door.event()
    ticket = door.issue(event)
    main_entrance = door.default_list(event)
    door.scan(ticket.payload, scan_id="scan-1", at=DURING_THE_SHOW)
    door.scan(ticket.payload, scan_id="scan-2", at=DURING_THE_SHOW + timedelta(minutes=1))
    door.revoke(ticket)
    door.scan(ticket.payload, scan_id="scan-3", at=DURING_THE_SHOW + timedelta(minutes=2))

    recorded = [envelope["data"] for envelope in door.published("checkin.recorded")]

    assert [(r["scan_id"], r["verdict"]) for r in recorded] == [
        ("scan-1", "ok"),
        ("scan-2", "already_checked_in"),
        ("scan-3", "revoked"),
    ]
    assert recorded[0] == {
        "scan_id": "scan-1",
        "ticket_id": str(ticket.id),
        "registration_id": str(ticket.registration_id),
        "event_id": str(event.id),
        "list_id": main_entrance,
        "verdict": "ok",
        "direction": "in",
        "scanned_at": DURING_THE_SHOW.isoformat(),
    }


def test_scans_of_no_known_ticket_are_recorded_but_publish_nothing(door):
    event = door.event()
    door.issue(event)

    door.scan("hello")
    door.scan(door.signed_ticket(event).payload)

    assert door.scans_recorded() == 2
    assert door.published("checkin.recorded") == []


# --- choosing a list -----------------------------------------------------------------------


def test_a_list_that_does_not_exist_is_not_found(door):
    event = door.event()
    ticket = door.issue(event)

    with pytest.raises(NotFound):
        door.scan(ticket.payload, list_id=str(uuid.uuid4()))
    assert door.scans_recorded() == 0


def test_a_list_of_another_organisation_is_not_found(door):
    theirs = door.event(organisation_id=SOUTHWIND.organisation_id)
    ours = door.event(organisation_id=NORTHWIND.organisation_id)
    ticket = door.issue(ours)

    with pytest.raises(NotFound):
        door.scan(ticket.payload, by=NORTHWIND, list_id=door.default_list(theirs))
    assert door.scans_recorded() == 0


def test_door_staff_cannot_pick_a_list_of_another_event(door):
    tonight = door.event()
    tomorrow = door.event(
        starts_at=SHOW_STARTS + timedelta(days=1), ends_at=SHOW_ENDS + timedelta(days=1)
    )
    ticket = door.issue(tonight)

    with pytest.raises(NotFound):
        door.scan(ticket.payload, by=staff_of(tonight.id), list_id=door.default_list(tomorrow))
