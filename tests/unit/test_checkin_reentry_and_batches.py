"""Check-in lists' rules and offline batches (docs/architecture.md, "Check-in verdicts"):
entry windows, re-entry policies with exit scans and "inside" counts, manual check-in, and
batches uploaded after the network dropped, with duplicates and conflicts resolved to the
earliest scan.

Runs services/checkin against a real migrated SQLite database, fed as the worker feeds it.
"""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.checkin import service as checkin
from services.checkin.scan_records import ScanRequest
from services.checkin.schemas import BatchOut, RosterTicketOut, StatsOut
from shared.errors import InvalidRequest, NotFound
from tests.unit.domain_fixtures import (
    DURING_THE_SHOW,
    NORTHWIND,
    SHOW_ENDS,
    SHOW_STARTS,
    SOUTHWIND,
    staff_of,
)

pytest_plugins = ["tests.unit.domain_fixtures"]

MINUTE = timedelta(minutes=1)


def stats(door, event) -> dict:
    """The event's figures as the dashboard receives them."""
    with door.runtime.session_factory() as session:
        return StatsOut().dump(checkin.event_stats(session, NORTHWIND, str(event.id)))


def on_list(figures: dict, list_id: str) -> dict:
    return next(item for item in figures["lists"] if item["id"] == list_id)


# --- entry windows -------------------------------------------------------------------------


def test_a_list_admits_only_within_its_entry_window_and_says_when(door):
    event = door.event()
    workshop_opens = DURING_THE_SHOW
    workshop = door.add_list(
        event, "Workshop room", opens_at=workshop_opens, closes_at=workshop_opens + 30 * MINUTE
    )
    ticket = door.issue(event)

    early = door.scan(ticket.payload, list_id=workshop, at=workshop_opens - MINUTE)
    late = door.scan(ticket.payload, list_id=workshop, at=workshop_opens + 31 * MINUTE)
    in_time = door.scan(ticket.payload, list_id=workshop, at=workshop_opens + MINUTE)

    assert early["verdict"] == "not_yet_valid"
    assert early["window"] == {
        "opens_at": workshop_opens.isoformat(),
        "closes_at": (workshop_opens + 30 * MINUTE).isoformat(),
    }
    assert late["verdict"] == "expired"
    assert in_time["verdict"] == "ok"


def test_a_window_that_closes_before_it_opens_is_refused(door):
    event = door.event()

    with pytest.raises(InvalidRequest):
        door.add_list(event, "Backwards", opens_at=DURING_THE_SHOW, closes_at=DURING_THE_SHOW)


def test_a_list_refuses_ticket_types_of_another_event(door):
    event = door.event()

    with pytest.raises(InvalidRequest):
        checkin.create_list(
            door.runtime.unit_of_work(),
            NORTHWIND,
            str(event.id),
            {"name": "VIP", "ticket_type_ids": [uuid.uuid4()]},
        )


def test_another_organisation_cannot_add_lists_to_the_event(door):
    event = door.event()

    with pytest.raises(NotFound):
        checkin.create_list(door.runtime.unit_of_work(), SOUTHWIND, str(event.id), {"name": "X"})


# --- re-entry: once ------------------------------------------------------------------------


def test_once_admits_a_single_entry_even_after_an_exit_scan(door):
    event = door.event()
    hall = door.add_list(event, "Main hall", reentry="once")
    ticket = door.issue(event)

    assert door.scan(ticket.payload, list_id=hall, scan_id="in-1")["verdict"] == "ok"
    out = door.scan_out(ticket.payload, list_id=hall, at=DURING_THE_SHOW + 10 * MINUTE)
    again = door.scan(ticket.payload, list_id=hall, at=DURING_THE_SHOW + 20 * MINUTE)

    assert out["verdict"] == "ok" and out["was_inside"] is True
    assert again["verdict"] == "already_checked_in"
    assert again["previous"]["scan_id"] == "in-1"


# --- re-entry: once per day ----------------------------------------------------------------


def test_daily_admits_once_per_day_of_the_event_time_zone(door):
    # Hong Kong is UTC+8: 15:30 and 16:30 UTC fall on two different days there.
    festival = door.event(
        starts_at=datetime(2030, 6, 1, 1, 0, tzinfo=UTC),
        ends_at=datetime(2030, 6, 4, 14, 0, tzinfo=UTC),
    )
    gate = door.add_list(festival, "Festival gate", reentry="daily")
    ticket = door.issue(festival)
    evening_day_one = datetime(2030, 6, 1, 15, 30, tzinfo=UTC)  # 23:30 on 1 June in HK
    same_day_later = datetime(2030, 6, 1, 15, 45, tzinfo=UTC)
    day_two = datetime(2030, 6, 1, 16, 30, tzinfo=UTC)  # 00:30 on 2 June in HK

    first = door.scan(ticket.payload, list_id=gate, at=evening_day_one)
    again_that_day = door.scan(ticket.payload, list_id=gate, at=same_day_later)
    next_day = door.scan(ticket.payload, list_id=gate, at=day_two)

    assert [first["verdict"], again_that_day["verdict"], next_day["verdict"]] == [
        "ok",
        "already_checked_in",
        "ok",
    ]
    # Nobody scanned out, yet the attendee is counted inside once, not twice.
    assert on_list(stats(door, festival), gate)["inside"] == 1


# --- re-entry: unlimited with exit scans ---------------------------------------------------


def test_unlimited_lets_a_ticket_in_again_only_after_an_exit_scan(door):
    event = door.event()
    lounge = door.add_list(event, "VIP lounge", reentry="unlimited")
    ticket = door.issue(event)
    at = DURING_THE_SHOW

    verdicts = [
        door.scan(ticket.payload, list_id=lounge, at=at)["verdict"],
        door.scan(ticket.payload, list_id=lounge, at=at + MINUTE)["verdict"],
        door.scan_out(ticket.payload, list_id=lounge, at=at + 2 * MINUTE)["verdict"],
        door.scan(ticket.payload, list_id=lounge, at=at + 3 * MINUTE)["verdict"],
        door.scan_out(ticket.payload, list_id=lounge, at=at + 4 * MINUTE)["verdict"],
        door.scan(ticket.payload, list_id=lounge, at=at + 5 * MINUTE)["verdict"],
    ]

    assert verdicts == ["ok", "already_checked_in", "ok", "ok", "ok", "ok"]
    assert on_list(stats(door, event), lounge) == {
        "id": lounge,
        "name": "VIP lounge",
        "checked_in": 1,
        "inside": 1,
    }


def test_inside_counts_follow_entries_and_exits(door):
    event = door.event()
    lounge = door.add_list(event, "VIP lounge", reentry="unlimited")
    tickets = [door.issue(event, attendee_name=f"Guest {n}") for n in range(3)]
    for ticket in tickets:
        door.scan(ticket.payload, list_id=lounge)
    door.scan_out(tickets[0].payload, list_id=lounge, at=DURING_THE_SHOW + MINUTE)
    # Scanning out twice, or someone who never came in, changes nothing.
    door.scan_out(tickets[0].payload, list_id=lounge, at=DURING_THE_SHOW + 2 * MINUTE)
    stranger = door.issue(event)
    never_in = door.scan_out(stranger.payload, list_id=lounge)

    figures = stats(door, event)

    assert never_in["verdict"] == "ok" and never_in["was_inside"] is False
    assert figures["checked_in"] == 3
    assert figures["inside"] == 2
    assert on_list(figures, lounge)["inside"] == 2
    assert figures["ticket_types"][0]["inside"] == 2


def test_nobody_is_kept_from_leaving(door):
    event = door.event()
    ticket = door.issue(event)
    door.scan(ticket.payload)
    door.revoke(ticket)

    leaving = door.scan_out(ticket.payload, at=SHOW_ENDS + timedelta(hours=1))

    assert leaving["verdict"] == "ok" and leaving["was_inside"] is True
    assert stats(door, event)["inside"] == 0


# --- manual check-in -----------------------------------------------------------------------


def manual(door, ticket_id, by=NORTHWIND, **fields) -> dict:
    request = ScanRequest(scan_id=uuid.uuid4().hex, ticket_id=str(ticket_id), **fields)
    return checkin.scan(door.runtime.unit_of_work(), by, request, now=DURING_THE_SHOW)


def test_a_ticket_found_by_a_search_is_checked_in_by_hand_with_the_same_rules(door):
    event = door.event()
    ticket = door.issue(event, attendee_name="Grace Hopper")

    first = manual(door, ticket.id)
    again = door.scan(ticket.payload)

    assert first["verdict"] == "ok"
    assert first["ticket"]["attendee_name"] == "Grace Hopper"
    assert again["verdict"] == "already_checked_in"


def test_a_manual_check_in_of_another_organisations_ticket_reveals_nothing(door):
    theirs = door.event(organisation_id=SOUTHWIND.organisation_id)
    ticket = door.issue(theirs, attendee_name="Alan Turing")

    answer = manual(door, ticket.id)

    assert answer == {"verdict": "unknown_ticket", "scan_id": answer["scan_id"]}


def test_search_finds_tickets_by_name_email_and_code(door):
    event = door.event()
    grace = door.issue(event, attendee_name="Grace Hopper")
    door.issue(event, attendee_name="陳大文")
    with door.runtime.session_factory() as session:

        def found(text, by=NORTHWIND):
            tickets = checkin.search_tickets(session, by, str(event.id), text)
            return [t["attendee_name"] for t in RosterTicketOut(many=True).dump(tickets)]

        assert found("hopp") == ["Grace Hopper"]
        assert found("大文") == ["陳大文"]
        assert found(str(grace.id)[:8]) == ["Grace Hopper"]
        assert found("%") == []
        assert found("grace", by=staff_of(event.id)) == ["Grace Hopper"]
        with pytest.raises(NotFound):
            found("grace", by=SOUTHWIND)


# --- offline batches -----------------------------------------------------------------------


def offline(ticket, at: datetime, scan_id: str, **fields) -> ScanRequest:
    return ScanRequest(scan_id=scan_id, payload=ticket.payload, scanned_at=at, **fields)


def test_a_batch_answers_in_the_order_sent_and_judges_each_at_its_own_time(door):
    event = door.event()
    tickets = [door.issue(event, attendee_name=f"Guest {n}") for n in range(3)]

    results = door.upload(
        [
            offline(tickets[2], DURING_THE_SHOW + 2 * MINUTE, "c"),
            offline(tickets[0], DURING_THE_SHOW, "a"),
            offline(tickets[1], SHOW_ENDS + MINUTE, "b"),
        ]
    )

    assert [(r["scan_id"], r["verdict"]) for r in results] == [
        ("c", "ok"),
        ("a", "ok"),
        ("b", "expired"),
    ]


def test_in_a_batch_the_earliest_scan_wins_and_later_ones_are_duplicates(door):
    event = door.event()
    ticket = door.issue(event, attendee_name="Grace Hopper")
    main = door.default_list(event)

    results = door.upload(
        [
            offline(ticket, DURING_THE_SHOW + 5 * MINUTE, "phone-2-7"),
            offline(ticket, DURING_THE_SHOW, "phone-1-3"),
        ]
    )

    later, earliest = results
    assert earliest["verdict"] == "ok"
    assert later["verdict"] == "already_checked_in"
    assert later["previous"] == {
        "scanned_at": DURING_THE_SHOW.isoformat(),
        "list_id": main,
        "gate": "Main entrance",
        "scan_id": "phone-1-3",
    }


def test_an_earlier_offline_scan_takes_over_a_later_online_admission(door):
    event = door.event()
    ticket = door.issue(event)
    online = door.scan(ticket.payload, scan_id="online-1", at=DURING_THE_SHOW + 10 * MINUTE)

    [result] = door.upload([offline(ticket, DURING_THE_SHOW, "offline-1")])

    assert online["verdict"] == "ok"
    assert result["verdict"] == "ok"
    assert result["displaced"]["scan_id"] == "online-1"
    assert result["displaced"]["scanned_at"] == (DURING_THE_SHOW + 10 * MINUTE).isoformat()
    record = roster_ticket(door, ticket)
    assert [(a["scan_id"], a["scanned_at"]) for a in record["admissions"]] == [
        ("offline-1", DURING_THE_SHOW.isoformat())
    ]
    # The online scan keeps its first answer for a retry, and is marked as the duplicate.
    assert door.scan(ticket.payload, scan_id="online-1") == online
    assert "online-1,in,ok,Main entrance" in scans_csv(door, event).replace("'", "")
    assert ",offline-1," in scans_csv(door, event)
    assert stats(door, event)["checked_in"] == 1


def test_a_later_offline_scan_than_the_online_admission_is_a_duplicate(door):
    event = door.event()
    ticket = door.issue(event)
    door.scan(ticket.payload, scan_id="online-1", at=DURING_THE_SHOW)

    [result] = door.upload([offline(ticket, DURING_THE_SHOW + MINUTE, "offline-1")])

    assert result["verdict"] == "already_checked_in"
    assert result["previous"]["scan_id"] == "online-1"


def test_a_reuploaded_batch_answers_its_first_answers_and_records_nothing_new(door):
    event = door.event()
    ticket = door.issue(event)
    batch = [
        offline(ticket, DURING_THE_SHOW, "x-1"),
        offline(ticket, DURING_THE_SHOW + MINUTE, "x-2"),
    ]
    first = door.upload(batch)
    scans_before = door.scans_recorded()
    events_before = len(door.published("checkin.recorded"))

    again = door.upload(batch + [batch[0]])

    assert again == first + [first[0]]
    assert door.scans_recorded() == scans_before == 2
    assert len(door.published("checkin.recorded")) == events_before == 2


def test_every_kind_of_batch_answer_is_already_what_the_api_documents(door):
    event = door.event()
    admitted, early, revoked, displacing = (door.issue(event) for _ in range(4))
    door.revoke(revoked)
    door.scan(displacing.payload, scan_id="online", at=DURING_THE_SHOW + 10 * MINUTE)
    stranger = door.signed_ticket(door.event())

    results = door.upload(
        [
            offline(admitted, DURING_THE_SHOW, "ok"),
            offline(admitted, DURING_THE_SHOW + MINUTE, "again"),
            offline(admitted, DURING_THE_SHOW + 2 * MINUTE, "exit", direction="out"),
            offline(early, SHOW_STARTS - 3 * timedelta(hours=1), "early"),
            offline(revoked, DURING_THE_SHOW, "revoked"),
            offline(displacing, DURING_THE_SHOW, "displacing"),
            offline(stranger, DURING_THE_SHOW, "unknown"),
            ScanRequest(scan_id="garbled", payload="LG1:???", scanned_at=DURING_THE_SHOW),
        ]
    )

    verdicts = [r["verdict"] for r in results]
    assert verdicts == [
        "ok",
        "already_checked_in",
        "ok",
        "not_yet_valid",
        "revoked",
        "ok",
        "unknown_ticket",
        "invalid",
    ]
    assert results[5]["displaced"]["scan_id"] == "online"
    assert BatchOut().dump({"results": results}) == {"results": results}


def test_a_batch_applies_exits_and_entries_in_time_order(door):
    event = door.event()
    lounge = door.add_list(event, "VIP lounge", reentry="unlimited")
    ticket = door.issue(event)
    at = DURING_THE_SHOW

    results = door.upload(
        [
            offline(ticket, at + 2 * MINUTE, "in-2", list_id=lounge),
            offline(ticket, at + MINUTE, "out-1", list_id=lounge, direction="out"),
            offline(ticket, at, "in-1", list_id=lounge),
        ]
    )

    assert [r["verdict"] for r in results] == ["ok", "ok", "ok"]
    assert on_list(stats(door, event), lounge)["inside"] == 1


def test_a_batch_with_a_list_the_device_may_not_use_records_nothing(door):
    tonight = door.event()
    tomorrow = door.event(
        starts_at=SHOW_STARTS + timedelta(days=1), ends_at=SHOW_ENDS + timedelta(days=1)
    )
    ticket = door.issue(tonight)

    with pytest.raises(NotFound):
        door.upload(
            [offline(ticket, DURING_THE_SHOW, "s-1", list_id=door.default_list(tomorrow))],
            by=staff_of(tonight.id),
        )
    assert door.scans_recorded() == 0


def test_a_batch_of_manual_check_ins_by_ticket_id(door):
    event = door.event()
    ticket = door.issue(event)

    [result] = door.upload(
        [ScanRequest(scan_id="m-1", ticket_id=str(ticket.id), scanned_at=DURING_THE_SHOW)]
    )

    assert result["verdict"] == "ok"


def roster_ticket(door, ticket) -> dict:
    with door.runtime.session_factory() as session:
        return RosterTicketOut().dump(checkin.roster_ticket(session, NORTHWIND, str(ticket.id)))


def scans_csv(door, event) -> str:
    with door.runtime.session_factory() as session:
        return checkin.scans_csv(session, NORTHWIND, str(event.id))
