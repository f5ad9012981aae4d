"""A scan id is the sender's own: a retried upload from the device that made it answers its
first answer again, and the same id from anyone else is judged as a scan of its own, never
answered from another device's record (issue 14: scan ids leaked across events)."""

from dataclasses import replace

from services.checkin.scan_records import ScanRequest
from tests.unit.domain_fixtures import DURING_THE_SHOW, staff_of

pytest_plugins = ["tests.unit.domain_fixtures"]


def device(event, name: str):
    """A door device paired to `event`: its principal, with its own token."""
    return replace(staff_of(event.id), subject=f"token-of-{name}")


def test_another_events_device_reusing_a_scan_id_learns_nothing_of_that_scan(door):
    hall, studio = door.event(), door.event()
    guest = door.issue(hall, attendee_name="Ada Lovelace")
    hall_door, studio_door = device(hall, "hall-1"), device(studio, "studio-1")
    assert door.scan(guest.payload, by=hall_door, scan_id="door-1-0001")["verdict"] == "ok"

    answer = door.scan(guest.payload, by=studio_door, scan_id="door-1-0001")

    assert answer["verdict"] == "wrong_event"
    assert "Ada Lovelace" not in str(answer)


def test_a_genuine_scan_whose_id_another_device_used_is_judged_and_recorded(door):
    event = door.event()
    first, second = door.issue(event), door.issue(event)
    north, south = device(event, "north-gate"), device(event, "south-gate")
    door.scan(first.payload, by=north, scan_id="0001")

    answer = door.scan(second.payload, by=south, scan_id="0001")

    assert answer["verdict"] == "ok"
    assert answer["ticket"]["id"] == str(second.id)
    assert door.scans_recorded("0001") == 2
    assert door.scan(second.payload, by=north)["verdict"] == "already_checked_in"


def test_the_device_that_made_a_scan_gets_its_first_answer_again_online_and_in_batches(door):
    event = door.event()
    ticket = door.issue(event)
    gate = device(event, "gate")
    first = door.scan(ticket.payload, by=gate, scan_id="gate-0001")

    again = door.scan(ticket.payload, by=gate, scan_id="gate-0001")
    [uploaded] = door.upload(
        [ScanRequest("gate-0001", payload=ticket.payload, scanned_at=DURING_THE_SHOW)], by=gate
    )

    assert again == first
    assert uploaded == first
    assert door.scans_recorded("gate-0001") == 1


def test_an_offline_batch_from_another_device_with_the_same_ids_is_judged_afresh(door):
    event = door.event()
    ticket = door.issue(event)
    north, south = device(event, "north"), device(event, "south")
    scans = [ScanRequest("q-1", payload=ticket.payload, scanned_at=DURING_THE_SHOW)]
    door.upload(scans, by=north)

    [answer] = door.upload(scans, by=south)

    assert answer["verdict"] == "already_checked_in"
    assert door.scans_recorded("q-1") == 2
