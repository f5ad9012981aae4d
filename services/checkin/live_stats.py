"""What the organiser's dashboard shows: who is in, per list and per ticket type, arrivals
per five minutes, and every scan as CSV. No Flask, no broker."""

import csv
import io
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.checkin.lists import event_lists
from services.checkin.models import Admission, CheckinList, EventInfo, RosterTicket, Scan
from shared.spreadsheet import safe_cell

ARRIVALS_BUCKET = timedelta(minutes=5)


def change_marker(session: Session, event_id: str) -> tuple:
    """Changes whenever a scan of the event is recorded; cheap enough to poll."""
    return tuple(
        session.execute(
            select(func.count(), func.max(Scan.recorded_at)).where(Scan.event_id == event_id)
        ).one()
    )


@dataclass(frozen=True)
class CountOnList:
    id: str
    name: str
    checked_in: int
    inside: int


@dataclass(frozen=True)
class CountOfTicketType:
    id: str
    name: str
    tickets: int
    checked_in: int
    inside: int


@dataclass(frozen=True)
class ArrivalsBucket:
    starts_at: datetime
    count: int


@dataclass(frozen=True)
class EventStats:
    """Who is in: valid tickets, tickets admitted at least once (`checked_in`) and admitted
    and not out since (`inside`), in all and per list and ticket type; scans by verdict;
    first arrivals per five minutes."""

    event_id: str
    title: str
    timezone: str
    tickets: int
    checked_in: int
    inside: int
    scans: dict[str, int]
    lists: list[CountOnList]
    ticket_types: list[CountOfTicketType]
    arrivals: list[ArrivalsBucket]


def event_stats(session: Session, event: EventInfo) -> EventStats:
    lists = event_lists(session, event.id)
    admissions = session.execute(
        select(Admission.list_id, Admission.ticket_id, Admission.admitted_at, Admission.exited_at)
        .join(CheckinList, CheckinList.id == Admission.list_id)
        .where(CheckinList.event_id == event.id)
    ).all()
    tickets = session.execute(
        select(RosterTicket.id, RosterTicket.ticket_type_id, RosterTicket.revoked_at).where(
            RosterTicket.event_id == event.id
        )
    ).all()
    type_of = {ticket.id: ticket.ticket_type_id for ticket in tickets}
    first_arrival: dict[str, datetime] = {}
    admitted_on: dict[str, set] = {item.id: set() for item in lists}
    inside_on: dict[str, set] = {item.id: set() for item in lists}
    for admission in admissions:
        ticket = admission.ticket_id
        if ticket not in first_arrival or admission.admitted_at < first_arrival[ticket]:
            first_arrival[ticket] = admission.admitted_at
        admitted_on[admission.list_id].add(ticket)
        if admission.exited_at is None:
            inside_on[admission.list_id].add(ticket)
    inside = set().union(*inside_on.values())
    verdicts = session.execute(
        select(Scan.verdict, func.count().label("scans"))
        .where(Scan.event_id == event.id)
        .group_by(Scan.verdict)
    ).all()
    names = event.ticket_type_names or {}
    return EventStats(
        event_id=event.id,
        title=event.title,
        timezone=event.timezone,
        tickets=sum(1 for ticket in tickets if ticket.revoked_at is None),
        checked_in=len(first_arrival),
        inside=len(inside),
        scans={row.verdict: row.scans for row in verdicts},
        lists=[
            CountOnList(
                id=item.id,
                name=item.name,
                checked_in=len(admitted_on[item.id]),
                inside=len(inside_on[item.id]),
            )
            for item in lists
        ],
        ticket_types=[
            CountOfTicketType(
                id=type_id,
                name=name,
                tickets=sum(
                    1 for t in tickets if t.ticket_type_id == type_id and t.revoked_at is None
                ),
                checked_in=sum(1 for t in first_arrival if type_of.get(t) == type_id),
                inside=sum(1 for t in inside if type_of.get(t) == type_id),
            )
            for type_id, name in names.items()
        ],
        arrivals=arrivals_per_bucket(first_arrival.values()),
    )


def arrivals_per_bucket(arrivals) -> list[ArrivalsBucket]:
    """First arrivals counted per five minutes, with empty buckets in between kept, so a
    chart's time axis has no gaps."""
    step = int(ARRIVALS_BUCKET.total_seconds())
    counts = Counter(int(moment.timestamp()) // step * step for moment in arrivals)
    if not counts:
        return []
    return [
        ArrivalsBucket(datetime.fromtimestamp(start, UTC), counts.get(start, 0))
        for start in range(min(counts), max(counts) + step, step)
    ]


CSV_COLUMNS = [
    "scanned_at",
    "scan_id",
    "direction",
    "verdict",
    "gate",
    "ticket_id",
    "attendee_name",
    "ticket_type",
    "manual",
    "duplicate_of",
    "recorded_at",
]


def scans_csv(session: Session, event: EventInfo) -> str:
    """Every scan of the event, oldest first, in the event's time zone. UTF-8 with a byte
    order mark so Excel shows Chinese names right."""
    zone = ZoneInfo(event.timezone)
    rows = session.execute(
        select(Scan, CheckinList.name, RosterTicket.attendee_name, RosterTicket.ticket_type_id)
        .outerjoin(CheckinList, CheckinList.id == Scan.list_id)
        .outerjoin(RosterTicket, RosterTicket.id == Scan.ticket_id)
        .where(Scan.event_id == event.id)
        .order_by(Scan.scanned_at, Scan.scan_id)
    )
    names = event.ticket_type_names or {}
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for scan, gate, attendee_name, ticket_type_id in rows:
        writer.writerow(
            [
                scan.scanned_at.astimezone(zone).isoformat(),
                safe_cell(scan.scan_id),
                scan.direction,
                scan.verdict,
                safe_cell(gate or ""),
                scan.ticket_id or "",
                safe_cell(attendee_name or ""),
                safe_cell(names.get(ticket_type_id, "")),
                "yes" if scan.manual else "",
                safe_cell(scan.superseded_by or ""),
                scan.recorded_at.astimezone(zone).isoformat(),
            ]
        )
    return buffer.getvalue()
