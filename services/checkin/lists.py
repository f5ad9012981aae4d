"""Check-in lists: a gate or an area of one event, the ticket types it admits, its entry
window and its re-entry policy. No Flask, no broker."""

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from services.checkin.models import CheckinList, Device, EventInfo, PairingCode, Scan
from services.checkin.scan_records import DoorEvent
from shared.auth import Principal
from shared.errors import N_, Conflict, InvalidRequest, NotFound

DEFAULT_LIST_NAME = "Main entrance"

ONCE = "once"
DAILY = "daily"
UNLIMITED = "unlimited"
REENTRY_POLICIES = (ONCE, DAILY, UNLIMITED)

LIST_FIELDS = ("name", "ticket_type_ids", "session_id", "opens_at", "closes_at", "reentry")

NO_SUCH_LIST = N_("No such check-in list.")


@dataclass(frozen=True)
class ListWithTimezone:
    """A check-in list's rules, with its event's time zone (a daily list counts days in it)."""

    id: str
    event_id: str
    name: str
    ticket_type_ids: list | None
    is_default: bool
    session_id: str | None
    opens_at: datetime | None
    closes_at: datetime | None
    reentry: str
    timezone: str

    @classmethod
    def of(cls, checkin_list: CheckinList, event: EventInfo) -> "ListWithTimezone":
        return cls(
            id=checkin_list.id,
            event_id=checkin_list.event_id,
            name=checkin_list.name,
            ticket_type_ids=checkin_list.ticket_type_ids,
            is_default=checkin_list.is_default,
            session_id=checkin_list.session_id,
            opens_at=checkin_list.opens_at,
            closes_at=checkin_list.closes_at,
            reentry=checkin_list.reentry,
            timezone=event.timezone,
        )


def may_scan_for(principal: Principal, event: EventInfo | DoorEvent | None) -> bool:
    """Staff scan for the one event they were paired to; organisers and their team for their
    own events (a member limited to some events, for those)."""
    return event is not None and principal.may_open(event.organisation_id, event.id)


def organised_event(session: Session, principal: Principal, event_id: str) -> EventInfo:
    """The event if the caller may work its doors; another organisation's answers 404."""
    event = session.get(EventInfo, event_id)
    if not may_scan_for(principal, event):
        raise NotFound(N_("No such event."))
    return event


def reachable_list(session: Session, principal: Principal, list_id: str) -> CheckinList:
    checkin_list = session.get(CheckinList, list_id)
    if checkin_list is None or not may_scan_for(
        principal, session.get(EventInfo, checkin_list.event_id)
    ):
        raise NotFound(NO_SUCH_LIST)
    return checkin_list


def event_lists(session: Session, event_id: str) -> list[CheckinList]:
    return list(
        session.scalars(
            select(CheckinList)
            .where(CheckinList.event_id == event_id)
            .order_by(CheckinList.is_default.desc(), CheckinList.name)
        )
    )


def ensure_default_list(session: Session, event_id: str) -> None:
    has_default = session.scalars(
        select(CheckinList.id).where(CheckinList.event_id == event_id, CheckinList.is_default)
    ).first()
    if not has_default:
        session.add(
            CheckinList(
                event_id=event_id, name=DEFAULT_LIST_NAME, ticket_type_ids=None, is_default=True
            )
        )


def create_list(session: Session, event: EventInfo, fields: dict) -> CheckinList:
    checkin_list = CheckinList(event_id=event.id, is_default=False)
    _apply(checkin_list, event, {"reentry": ONCE, **fields})
    session.add(checkin_list)
    session.flush()
    return checkin_list


def update_list(checkin_list: CheckinList, event: EventInfo, fields: dict) -> CheckinList:
    _apply(checkin_list, event, fields)
    return checkin_list


def delete_list(session: Session, checkin_list: CheckinList) -> None:
    if checkin_list.is_default:
        raise Conflict(N_("The event's default list cannot be deleted; narrow it instead."))
    scanned = session.scalars(select(Scan.scan_id).where(Scan.list_id == checkin_list.id)).first()
    if scanned:
        raise Conflict(N_("This list has scans; it stays so that they keep their gate."))
    # A device's token works on every list of its event: its devices keep scanning, opening
    # on the event's default list from now on. Its codes not used yet would pair to nothing.
    default_id = session.scalars(
        select(CheckinList.id).where(
            CheckinList.event_id == checkin_list.event_id, CheckinList.is_default
        )
    ).one()
    session.execute(
        update(Device).where(Device.list_id == checkin_list.id).values(list_id=default_id)
    )
    session.execute(delete(PairingCode).where(PairingCode.list_id == checkin_list.id))
    session.delete(checkin_list)


def _apply(checkin_list: CheckinList, event: EventInfo, fields: dict) -> None:
    if "ticket_type_ids" in fields and fields["ticket_type_ids"] is not None:
        type_ids = [str(type_id) for type_id in fields["ticket_type_ids"]]
        unknown = sorted(set(type_ids) - set(event.ticket_type_names or {}))
        if unknown:
            raise InvalidRequest(
                N_("Not a ticket type of this event."), errors={"ticket_type_ids": unknown}
            )
        fields = {**fields, "ticket_type_ids": type_ids}
    for name in LIST_FIELDS:
        if name in fields:
            setattr(checkin_list, name, fields[name])
    if (
        checkin_list.opens_at is not None
        and checkin_list.closes_at is not None
        and checkin_list.closes_at <= checkin_list.opens_at
    ):
        raise InvalidRequest(
            N_("The entry window closes before it opens."),
            errors={"closes_at": ["Must be after opens_at."]},
        )


# --- re-entry ----------------------------------------------------------------------------


@dataclass(frozen=True)
class EntryRule:
    """How a list's re-entry policy decides whether a ticket may come in again."""

    policy: str
    timezone: str

    def entry_key(self, admitted_at: datetime, admissions_so_far: int) -> str:
        """The name of the entry a scan at `admitted_at` would be; the database lets each
        name exist once per list and ticket."""
        if self.policy == DAILY:
            return admitted_at.astimezone(ZoneInfo(self.timezone)).date().isoformat()
        if self.policy == UNLIMITED:
            return f"visit-{admissions_so_far + 1}"
        return ONCE

    def blocking(self, admissions: list, entry_key: str):
        """The earlier admission that keeps this entry out, if any."""
        if self.policy == UNLIMITED:
            # In and out as often as the exit scans allow; in twice without an exit is not.
            return next((a for a in admissions if a.exited_at is None), None)
        return next((a for a in admissions if a.entry_key == entry_key), None)

    @property
    def earliest_scan_wins(self) -> bool:
        """Whether an earlier offline scan may take a later admission over. Visits of an
        unlimited list are counted in arrival order instead: there is no "first" visit to
        win, only whether the ticket is inside."""
        return self.policy != UNLIMITED
