"""The door's roster: events, keys and tickets kept from the bus, what staff look up by name,
email or code, and the offline bundle a door device scans with. No Flask, no broker."""

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from services.checkin.door_keys import forget_key
from services.checkin.lists import ListWithTimezone, ensure_default_list, event_lists
from services.checkin.models import (
    Admission,
    CheckinList,
    EarlyRevocation,
    ErasedRegistration,
    EventInfo,
    PublicKey,
    RosterTicket,
    Scan,
)
from services.checkin.scan_records import Entry, ticket_type_name
from shared.bus.events import ERASED_NAME

SEARCH_RESULTS = 20


def record_event(session: Session, data: dict) -> None:
    event_id = str(data["event_id"])
    event = session.get(EventInfo, event_id) or EventInfo(id=event_id)
    event.organisation_id = data["organisation_id"]
    event.title = data["title"]
    event.starts_at = data["starts_at"]
    event.ends_at = data["ends_at"]
    event.early_entry_minutes = data["early_entry_minutes"]
    event.status = data["status"]
    event.timezone = data["timezone"]
    event.ticket_type_names = {str(t["id"]): t["name"] for t in data["ticket_types"]}
    event.texts = door_texts(data)
    session.add(event)
    session.flush()
    ensure_default_list(session, event_id)


def door_texts(data: dict) -> dict:
    """The event's title and ticket type names in each language the organiser gave them
    (EventInfo.texts), from an event.published or event.updated."""
    return {
        "title": {
            locale: texts["title"]
            for locale, texts in (data.get("translations") or {}).items()
            if texts.get("title")
        },
        "ticket_types": {
            str(ticket_type["id"]): {
                locale: texts["name"]
                for locale, texts in (ticket_type.get("translations") or {}).items()
                if texts.get("name")
            }
            for ticket_type in data["ticket_types"]
        },
    }


def add_to_roster(session: Session, data: dict) -> None:
    key = data["signing_key"]
    if session.get(PublicKey, key["key_id"]) is None:
        session.add(
            PublicKey(
                key_id=key["key_id"], event_id=str(data["event_id"]), public_key=key["public_key"]
            )
        )
    if session.get(RosterTicket, str(data["ticket_id"])) is None:
        early = session.get(EarlyRevocation, str(data["ticket_id"]))
        erased = session.get(ErasedRegistration, str(data["registration_id"])) is not None
        session.add(
            RosterTicket(
                id=str(data["ticket_id"]),
                event_id=str(data["event_id"]),
                registration_id=str(data["registration_id"]),
                ticket_type_id=str(data["ticket_type_id"]),
                attendee_name=ERASED_NAME if erased else data["attendee_name"],
                attendee_email=None if erased else data.get("attendee_email"),
                valid_from=data["valid_from"],
                valid_until=data["valid_until"],
                revoked_at=early.revoked_at if early else None,
                token_sha256=data.get("token_sha256"),
            )
        )


def retire_key(session: Session, data: dict) -> None:
    """From now on the key verifies nothing, here and in every bundle sent after; a
    retirement that overtook the key's first ticket keeps the key retired when it comes."""
    key = session.get(PublicKey, data["key_id"])
    if key is None:
        session.add(
            PublicKey(
                key_id=data["key_id"], event_id=str(data["event_id"]), retired_at=data["retired_at"]
            )
        )
    elif key.retired_at is None:
        key.retired_at = data["retired_at"]
    forget_key(session, data["key_id"])


def revoke(session: Session, data: dict) -> None:
    ticket = session.get(RosterTicket, str(data["ticket_id"]))
    if ticket is None:
        if session.get(EarlyRevocation, str(data["ticket_id"])) is None:
            session.add(
                EarlyRevocation(ticket_id=str(data["ticket_id"]), revoked_at=datetime.now(UTC))
            )
    elif ticket.revoked_at is None:
        ticket.revoked_at = datetime.now(UTC)


def erase_attendee(session: Session, data: dict) -> None:
    """Blank the attendee's name and email on the registration's roster tickets, and on any
    that arrive later."""
    registration_id = str(data["registration_id"])
    tickets = select(RosterTicket.id).where(RosterTicket.registration_id == registration_id)
    session.execute(
        update(RosterTicket)
        .where(RosterTicket.registration_id == registration_id)
        .values(attendee_name=ERASED_NAME, attendee_email=None)
    )
    # A scan keeps its first answer, to answer a retried scan id again; it named the attendee.
    for scan in session.scalars(select(Scan).where(Scan.ticket_id.in_(tickets))):
        if "ticket" in scan.answer:
            ticket = {**scan.answer["ticket"], "attendee_name": ERASED_NAME}
            scan.answer = {**scan.answer, "ticket": ticket}
    if session.get(ErasedRegistration, registration_id) is None:
        session.add(ErasedRegistration(registration_id=registration_id))


@dataclass(frozen=True)
class TicketAtTheDoor:
    """A roster ticket as door staff and door devices see it: who it is for, its ticket
    type's name, its validity, whether it is revoked, and its admissions, oldest first."""

    id: str
    event_id: str
    attendee_name: str
    ticket_type_id: str
    ticket_type_name: str
    valid_from: datetime
    valid_until: datetime
    revoked: bool
    admissions: list[Entry]

    @classmethod
    def of(
        cls, ticket: RosterTicket, event: EventInfo, admissions: list[Entry]
    ) -> "TicketAtTheDoor":
        return cls(
            id=ticket.id,
            event_id=ticket.event_id,
            attendee_name=ticket.attendee_name,
            ticket_type_id=ticket.ticket_type_id,
            ticket_type_name=ticket_type_name(event.ticket_type_names, ticket.ticket_type_id),
            valid_from=ticket.valid_from,
            valid_until=ticket.valid_until,
            revoked=ticket.revoked_at is not None,
            admissions=admissions,
        )

    @property
    def status(self) -> str:
        return "revoked" if self.revoked else "valid"


@dataclass(frozen=True)
class OfflineBundle:
    """Everything a door device needs to judge scans of an event without the network: the
    event's public keys (retired ones marked, so the door refuses their codes), the valid
    tickets with their admissions so far, the ids of revoked tickets, the lists, and the
    event's names in the door's languages (EventInfo.texts)."""

    keys: list[PublicKey]
    tickets: list[TicketAtTheDoor]
    revoked: list[str]
    lists: list[ListWithTimezone]
    texts: dict


# Admissions with the names of their lists, read into Entry records by column name.
_ADMISSIONS_AT_GATES = (
    select(
        Admission.id,
        Admission.list_id,
        Admission.ticket_id,
        Admission.entry_key,
        Admission.scan_id,
        Admission.admitted_at,
        CheckinList.name.label("gate"),
        Admission.exited_at,
        Admission.exit_scan_id,
    )
    .join(CheckinList, CheckinList.id == Admission.list_id)
    .order_by(Admission.admitted_at)
)


def ticket_record(session: Session, ticket: RosterTicket, event: EventInfo) -> TicketAtTheDoor:
    """A ticket as the door knows it, with its admissions, for manual check-in and support."""
    rows = session.execute(_ADMISSIONS_AT_GATES.where(Admission.ticket_id == ticket.id))
    return TicketAtTheDoor.of(ticket, event, [Entry(**row._mapping) for row in rows])


def registration_tickets(session: Session, registration_id: str) -> list[RosterTicket]:
    """Every ticket the door knows of one registration, the first issued first (a reissue
    makes a new one)."""
    return list(
        session.scalars(
            select(RosterTicket)
            .where(RosterTicket.registration_id == registration_id)
            .order_by(RosterTicket.valid_from, RosterTicket.id)
        )
    )


def search(session: Session, event: EventInfo, text: str) -> list[TicketAtTheDoor]:
    """Tickets whose name contains `text`, whose code (id) starts with it, or whose email is
    exactly it: parts of an email are never matched, so searches cannot spell an attendee's
    address out letter by letter."""
    needle = text.strip().lower()
    if not needle:
        return []
    pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    tickets = session.scalars(
        select(RosterTicket)
        .where(
            RosterTicket.event_id == event.id,
            or_(
                func.lower(RosterTicket.attendee_name).like(pattern, escape="\\"),
                func.lower(RosterTicket.attendee_email) == needle,
                RosterTicket.id.like(pattern[1:], escape="\\"),
            ),
        )
        .order_by(RosterTicket.attendee_name)
        .limit(SEARCH_RESULTS)
    )
    return [ticket_record(session, ticket, event) for ticket in tickets]


def offline_bundle(session: Session, event: EventInfo) -> OfflineBundle:
    """What a door device of `event` scans with offline (OfflineBundle)."""
    tickets = session.scalars(select(RosterTicket).where(RosterTicket.event_id == event.id)).all()
    admitted: dict[str, list[Entry]] = {}
    for row in session.execute(_ADMISSIONS_AT_GATES.where(CheckinList.event_id == event.id)):
        admitted.setdefault(row.ticket_id, []).append(Entry(**row._mapping))
    return OfflineBundle(
        keys=list(session.scalars(select(PublicKey).where(PublicKey.event_id == event.id))),
        tickets=[
            TicketAtTheDoor.of(ticket, event, admitted.get(ticket.id, []))
            for ticket in tickets
            if ticket.revoked_at is None
        ],
        revoked=[ticket.id for ticket in tickets if ticket.revoked_at is not None],
        lists=[ListWithTimezone.of(item, event) for item in event_lists(session, event.id)],
        texts=event.texts or {},
    )
