"""A signing key admits only tickets of the event it was made for, and nobody once retired:
the attacks of issue 14's first finding, judged by the door online and in offline batches.

A forger holding one event's private key (leaked, or an insider's) signs whatever claims
they like; the door must refuse them everywhere but that key's own event."""

import uuid
from dataclasses import replace
from datetime import timedelta

from services.checkin.scan_records import ScanRequest
from shared.tokens import TicketClaims, sign_ticket
from tests.unit.domain_fixtures import DURING_THE_SHOW, SHOW_ENDS, SOUTHWIND, staff_of

pytest_plugins = ["tests.unit.domain_fixtures"]


def event_with_tickets(door, **fields):
    """An event whose key the door knows (it came with the event's tickets)."""
    event = door.event(**fields)
    door.issue(event)
    return event


def forged(ticket, signed_with, **claims) -> str:
    """The claims of a real ticket (changed as given), signed with another event's key."""
    original = TicketClaims(
        key_id=signed_with.key_id,
        event_id=ticket.event_id,
        ticket_id=ticket.id,
        ticket_type_id=ticket.ticket_type_id,
        valid_from=DURING_THE_SHOW - timedelta(days=365),
        valid_until=SHOW_ENDS + timedelta(days=365),
    )
    return sign_ticket(replace(original, **claims), signed_with.signing_key)


def test_a_ticket_signed_with_another_events_key_is_invalid(door):
    leaked, target = event_with_tickets(door), door.event()
    genuine = door.issue(target)

    payload = forged(genuine, signed_with=leaked)

    assert door.scan(payload)["verdict"] == "invalid"
    assert door.scan(payload, by=staff_of(target.id))["verdict"] == "invalid"
    assert door.scan(genuine.payload)["verdict"] == "ok", "the genuine ticket still scans"


def test_a_new_ticket_invented_with_another_events_key_is_invalid(door):
    leaked, target = event_with_tickets(door), door.event()
    invented = forged(door.signed_ticket(target), signed_with=leaked, ticket_id=uuid.uuid4())

    assert door.scan(invented)["verdict"] == "invalid"


def test_another_organisations_key_admits_nobody_here(door):
    theirs = event_with_tickets(door, organisation_id=SOUTHWIND.organisation_id)
    ours = door.event()
    genuine = door.issue(ours)

    assert door.scan(forged(genuine, signed_with=theirs))["verdict"] == "invalid"


def test_an_offline_batch_refuses_codes_signed_with_another_events_key(door):
    leaked, target = event_with_tickets(door), door.event()
    genuine = door.issue(target)
    scans = [
        ScanRequest("forged-1", payload=forged(genuine, leaked), scanned_at=DURING_THE_SHOW),
        ScanRequest("genuine-1", payload=genuine.payload, scanned_at=DURING_THE_SHOW),
    ]

    answers = door.upload(scans, by=staff_of(target.id))

    assert [answer["verdict"] for answer in answers] == ["invalid", "ok"]


def test_a_retired_keys_tickets_are_invalid_from_the_moment_the_door_hears_of_it(door):
    event = door.event()
    ticket = door.issue(event)
    assert door.scan(ticket.payload)["verdict"] == "ok"

    door.retire_key(event)

    assert door.scan(ticket.payload)["verdict"] == "invalid", "even the very token issued"
    assert door.scan(forged(ticket, signed_with=event))["verdict"] == "invalid"
    upload = [ScanRequest("offline-1", payload=ticket.payload, scanned_at=DURING_THE_SHOW)]
    assert door.upload(upload)[0]["verdict"] == "invalid"


def test_a_retirement_that_overtakes_the_keys_first_ticket_still_retires_it(door):
    event = door.event()
    door.retire_key(event)

    ticket = door.issue(event)

    assert door.scan(ticket.payload)["verdict"] == "invalid"


def test_retiring_one_key_leaves_the_events_other_keys_admitting(door):
    event = door.event()
    ticket = door.issue(event)

    door.retire_key(event, key_id="0badc0de")

    assert door.scan(ticket.payload)["verdict"] == "ok"


def test_the_offline_bundle_marks_retired_keys_with_their_event(door, checkin_runtime):
    from services.checkin import service as checkin
    from services.checkin.schemas import BundleOut

    event = door.event()
    door.issue(event)
    door.retire_key(event)

    with checkin_runtime.session_factory() as session:
        bundle = checkin.offline_bundle(session, staff_of(event.id), str(event.id))

    [key] = BundleOut().dump(bundle)["keys"]
    assert key["key_id"] == event.key_id
    assert key["event_id"] == str(event.id)
    assert key["retired_at"] is not None
