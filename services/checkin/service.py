"""Check-in's service layer: each operation the API and the consumers call, one transaction
each. The rules live in the modules it calls: scanning (verdicts), lists (gates and
re-entry), roster (tickets kept from the bus, search, the offline bundle), devices (pairing)
and live_stats (the dashboard). No Flask, no broker."""

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from services.checkin import devices, lists, live_stats, live_stream, roster, scanning
from services.checkin.models import CheckinList, Device, EventInfo, RosterTicket
from services.checkin.scan_records import ScanRequest
from shared.auth import Principal
from shared.bus.outbox import forget_attendees
from shared.db import Transaction, UnitOfWork
from shared.errors import N_, Conflict, NotFound

log = logging.getLogger(__name__)

# Two doors racing for one ticket cost the loser one more judgement; a batch racing many
# doors may lose a few times before everything it relied on has settled.
RACE_ATTEMPTS = 5


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


# --- scans -------------------------------------------------------------------------------


def scan(
    uow: UnitOfWork, principal: Principal, request: ScanRequest, now: datetime | None = None
) -> dict:
    """Judge one scan at the door now; a scan id seen before gets its first answer again."""
    return _record(uow, principal, [request], _now(now), offline=False)[0]


def scan_batch(
    uow: UnitOfWork,
    principal: Principal,
    requests: list[ScanRequest],
    now: datetime | None = None,
) -> list[dict]:
    """Record scans a door made offline, the earliest scan of a ticket winning; their events
    go to the outbox in one statement."""
    return _record(uow, principal, requests, _now(now), offline=True)


def _record(uow, principal, requests, now, offline: bool) -> list[dict]:
    for attempt in range(RACE_ATTEMPTS):
        try:
            with uow:
                outcome = scanning.record_scans(
                    uow.session,
                    principal,
                    requests,
                    now,
                    offline=offline,
                    # Online, a scan id is almost always new: its primary key says so when
                    # it is not, and the retry then looks the first answer up.
                    look_up_scan_ids=offline or attempt > 0,
                )
                # Inserted at the commit, on PostgreSQL in one statement with the events.
                for table, rows in outcome.new_rows:
                    uow.stage(table, rows)
                uow.publish("checkin.recorded", *outcome.recorded)
                uow.commit()
                return outcome.answers
        except (IntegrityError, scanning.LostRace) as race:
            # Another door recorded first (or the scan id was seen before); judge again
            # against what is recorded now.
            log.info("scan judged again after losing a race: %s", type(race).__name__)
    raise Conflict(N_("Other doors kept changing these tickets; send the scans again."))


# --- the roster, kept from the bus -------------------------------------------------------


# Each runs in the consumer's transaction (shared/bus/inbox.py process_once), which commits.


def record_event(tx: Transaction, data: dict) -> None:
    roster.record_event(tx.session, data)


def add_to_roster(tx: Transaction, data: dict) -> None:
    roster.add_to_roster(tx.session, data)


def revoke(tx: Transaction, data: dict) -> None:
    roster.revoke(tx.session, data)


def retire_key(tx: Transaction, data: dict) -> None:
    roster.retire_key(tx.session, data)


def erase_attendee(tx: Transaction, data: dict) -> None:
    roster.erase_attendee(tx.session, data)
    forget_attendees(tx, [str(data["registration_id"])])


def roster_ticket(session: Session, principal: Principal, ticket_id: str) -> roster.TicketAtTheDoor:
    ticket = session.get(RosterTicket, ticket_id)
    if ticket is None:
        raise NotFound(N_("No such ticket in the check-in roster."))
    try:
        event = lists.organised_event(session, principal, ticket.event_id)
    except NotFound:
        raise NotFound(N_("No such ticket in the check-in roster.")) from None
    return roster.ticket_record(session, ticket, event)


def registration_check_ins(
    session: Session, principal: Principal, registration_id: str
) -> tuple[EventInfo, list[roster.TicketAtTheDoor]]:
    """One registration's tickets with their admissions at every gate, for the organiser's
    page of that attendee; 404 as for a missing one when the door does not know it, or it is
    another organisation's or outside a member's events."""
    tickets = roster.registration_tickets(session, registration_id)
    if not tickets:
        raise NotFound(N_("The doors know no ticket of this registration yet."))
    try:
        event = lists.organised_event(session, principal, tickets[0].event_id)
    except NotFound:
        raise NotFound(N_("The doors know no ticket of this registration yet.")) from None
    return event, [roster.ticket_record(session, ticket, event) for ticket in tickets]


def search_tickets(session: Session, principal: Principal, event_id: str, text: str) -> list:
    return roster.search(session, lists.organised_event(session, principal, event_id), text)


def offline_bundle(session: Session, principal: Principal, event_id: str) -> roster.OfflineBundle:
    return roster.offline_bundle(session, lists.organised_event(session, principal, event_id))


# --- check-in lists ----------------------------------------------------------------------


def event_lists(
    session: Session, principal: Principal, event_id: str
) -> list[lists.ListWithTimezone]:
    event = lists.organised_event(session, principal, event_id)
    return [lists.ListWithTimezone.of(item, event) for item in lists.event_lists(session, event_id)]


def create_list(
    uow: UnitOfWork, principal: Principal, event_id: str, fields: dict
) -> lists.ListWithTimezone:
    with uow:
        event = lists.organised_event(uow.session, principal, event_id)
        checkin_list = lists.create_list(uow.session, event, fields)
        uow.commit()
        return lists.ListWithTimezone.of(checkin_list, event)


def update_list(
    uow: UnitOfWork, principal: Principal, list_id: str, fields: dict
) -> lists.ListWithTimezone:
    with uow:
        checkin_list = lists.reachable_list(uow.session, principal, list_id)
        event = lists.organised_event(uow.session, principal, checkin_list.event_id)
        lists.update_list(checkin_list, event, fields)
        uow.commit()
        return lists.ListWithTimezone.of(checkin_list, event)


def delete_list(uow: UnitOfWork, principal: Principal, list_id: str) -> None:
    with uow:
        lists.delete_list(uow.session, lists.reachable_list(uow.session, principal, list_id))
        uow.commit()


# --- door devices ------------------------------------------------------------------------


def create_pairing_code(
    uow: UnitOfWork, principal: Principal, list_id: str, now: datetime | None = None
) -> dict:
    with uow:
        checkin_list: CheckinList = lists.reachable_list(uow.session, principal, list_id)
        pairing = devices.create_pairing_code(uow.session, principal, checkin_list, _now(now))
        uow.commit()
        return pairing


def redeem_pairing_code(
    uow: UnitOfWork, tokens: Table, code: str, device_name: str, now: datetime | None = None
) -> dict:
    with uow:
        paired = devices.redeem_pairing_code(uow.session, tokens, code, device_name, _now(now))
        uow.commit()
        return paired


def event_devices(session: Session, principal: Principal, event_id: str) -> list[Device]:
    lists.organised_event(session, principal, event_id)
    return devices.event_devices(session, event_id)


def revoke_device(uow: UnitOfWork, principal: Principal, tokens: Table, device_id: str) -> Device:
    with uow:
        device = devices.organised_device(uow.session, principal, device_id)
        devices.revoke_device(uow.session, tokens, device, datetime.now(UTC))
        uow.commit()
        return device


# --- the organiser's dashboard -----------------------------------------------------------


def event_stats(session: Session, principal: Principal, event_id: str) -> live_stats.EventStats:
    return live_stats.event_stats(session, lists.organised_event(session, principal, event_id))


def scans_csv(session: Session, principal: Principal, event_id: str) -> str:
    return live_stats.scans_csv(session, lists.organised_event(session, principal, event_id))


def stats_events(
    session_factory: sessionmaker,
    principal: Principal,
    event_id: str,
    render: Callable[[dict], str],
    max_seconds: float,
) -> Iterator[str]:
    """The live stats stream; the caller is checked now, before the first byte is sent."""
    with session_factory() as session:
        event = lists.organised_event(session, principal, event_id)
    return live_stream.stats_events(session_factory, event, render, max_seconds)


# --- the organiser's doors page ----------------------------------------------------------


@dataclass(frozen=True)
class EventDoors:
    """What the organiser pages show of an event's doors: the event (its ticket types and
    time zone), its lists and its door devices with when each last sent a scan."""

    event: EventInfo
    lists: list[lists.ListWithTimezone]
    devices: list[Device]
    last_scans: dict[str, datetime]


def event_doors(session: Session, principal: Principal, event_id: str) -> EventDoors:
    event_lists_now = event_lists(session, principal, event_id)  # checks the caller
    event_devices = devices.event_devices(session, event_id)
    return EventDoors(
        event=session.get(EventInfo, event_id),
        lists=event_lists_now,
        devices=event_devices,
        last_scans=devices.last_scans(session, event_devices),
    )
