"""Check-in at the door: verdicts for scans, the roster kept from ticket events.
No Flask, no broker.

A scan is judged in a fixed order, so the answer staff see is the one that matters most:
unreadable or forged, wrong event, unknown, revoked (which outranks an earlier entry),
outside the validity window, not for this list, already in, ok.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.checkin.models import Admission, CheckinList, EventInfo, PublicKey, RosterTicket, Scan
from shared.auth import STAFF, Principal
from shared.db import UnitOfWork
from shared.errors import NotFound
from shared.tokens import (
    InvalidTicketToken,
    TicketClaims,
    UnknownSigningKey,
    load_public_key,
    verify_ticket,
)

OK = "ok"
ALREADY_CHECKED_IN = "already_checked_in"
REVOKED = "revoked"
INVALID = "invalid"
UNKNOWN_TICKET = "unknown_ticket"
WRONG_EVENT = "wrong_event"
NOT_ALLOWED_HERE = "not_allowed_here"
NOT_YET_VALID = "not_yet_valid"
EXPIRED = "expired"
VERDICTS = (
    OK,
    ALREADY_CHECKED_IN,
    REVOKED,
    INVALID,
    UNKNOWN_TICKET,
    WRONG_EVENT,
    NOT_ALLOWED_HERE,
    NOT_YET_VALID,
    EXPIRED,
)

DEFAULT_LIST_NAME = "Main entrance"


@dataclass(frozen=True)
class ScanRequest:
    scan_id: str
    payload: str
    list_id: str | None = None
    scanned_at: datetime | None = None
    direction: str = "in"


def scan(
    uow: UnitOfWork, principal: Principal, request: ScanRequest, now: datetime | None = None
) -> dict:
    """Judge one scan and record it; a scan id seen before gets its first answer again."""
    scanned_at = request.scanned_at or now or datetime.now(UTC)
    try:
        with uow:
            earlier = uow.session.get(Scan, (principal.organisation_id, request.scan_id))
            if earlier is not None:
                return earlier.answer
            answer, ticket, checkin_list = _judge(uow.session, principal, request, scanned_at)
            answer["scan_id"] = request.scan_id
            uow.session.add(
                Scan(
                    organisation_id=principal.organisation_id,
                    scan_id=request.scan_id,
                    list_id=checkin_list.id if checkin_list else None,
                    ticket_id=ticket.id if ticket else None,
                    verdict=answer["verdict"],
                    direction=request.direction,
                    scanned_at=scanned_at,
                    answer=answer,
                )
            )
            if ticket is not None and checkin_list is not None:
                uow.publish(
                    "checkin.recorded",
                    {
                        "scan_id": request.scan_id,
                        "ticket_id": ticket.id,
                        "registration_id": ticket.registration_id,
                        "event_id": ticket.event_id,
                        "list_id": checkin_list.id,
                        "verdict": answer["verdict"],
                        "direction": request.direction,
                        "scanned_at": scanned_at,
                    },
                )
            uow.commit()
            return answer
    except IntegrityError:
        # The same scan id was uploaded twice at once; the first one's answer stands.
        with uow:
            return uow.session.get(Scan, (principal.organisation_id, request.scan_id)).answer


def _judge(session: Session, principal: Principal, request: ScanRequest, scanned_at: datetime):
    chosen_list = _chosen_list(session, principal, request.list_id)
    try:
        claims = verify_ticket(request.payload, _PublicKeys(session))
    except UnknownSigningKey:
        # Genuine or not, no ticket signed by this key has reached the roster.
        return {"verdict": UNKNOWN_TICKET}, None, chosen_list
    except InvalidTicketToken:
        return {"verdict": INVALID}, None, chosen_list
    checkin_list = chosen_list or _default_list(session, principal, claims)
    if checkin_list is None or checkin_list.event_id != str(claims.event_id):
        return {"verdict": WRONG_EVENT}, None, None
    ticket = session.get(RosterTicket, str(claims.ticket_id))
    if ticket is None:
        return {"verdict": UNKNOWN_TICKET}, None, checkin_list
    answer = {"ticket": _ticket_view(session, ticket), "list_id": checkin_list.id}
    if ticket.revoked_at is not None:
        return {"verdict": REVOKED, **answer}, ticket, checkin_list
    if scanned_at < claims.valid_from:
        return {"verdict": NOT_YET_VALID, **answer}, ticket, checkin_list
    if scanned_at > claims.valid_until:
        return {"verdict": EXPIRED, **answer}, ticket, checkin_list
    if checkin_list.ticket_type_ids is not None and (
        ticket.ticket_type_id not in checkin_list.ticket_type_ids
    ):
        return {"verdict": NOT_ALLOWED_HERE, **answer}, ticket, checkin_list
    previous = _admit(session, checkin_list, ticket, request.scan_id, scanned_at)
    if previous is not None:
        return (
            {
                "verdict": ALREADY_CHECKED_IN,
                **answer,
                "previous": _previous_view(session, previous),
            },
            ticket,
            checkin_list,
        )
    return {"verdict": OK, **answer}, ticket, checkin_list


def _admit(
    session: Session,
    checkin_list: CheckinList,
    ticket: RosterTicket,
    scan_id: str,
    scanned_at: datetime,
) -> Admission | None:
    """Admit the ticket on the list; return the earlier admission if there is one."""
    earlier = _admission(session, checkin_list.id, ticket.id)
    if earlier is not None:
        return earlier
    try:
        with session.begin_nested():
            session.add(
                Admission(
                    list_id=checkin_list.id,
                    ticket_id=ticket.id,
                    scan_id=scan_id,
                    admitted_at=scanned_at,
                )
            )
    except IntegrityError:
        # Another door admitted it a moment ago: the database's unique pair decided.
        return _admission(session, checkin_list.id, ticket.id)
    return None


def _admission(session: Session, list_id: str, ticket_id: str) -> Admission | None:
    return session.scalars(
        select(Admission).where(Admission.list_id == list_id, Admission.ticket_id == ticket_id)
    ).first()


def _chosen_list(session: Session, principal: Principal, list_id: str | None):
    if list_id is None:
        return None
    checkin_list = session.get(CheckinList, list_id)
    if checkin_list is None or not _may_scan_for(session, principal, checkin_list.event_id):
        raise NotFound("No such check-in list.")
    return checkin_list


def _default_list(session: Session, principal: Principal, claims: TicketClaims):
    event_id = str(claims.event_id)
    if not _may_scan_for(session, principal, event_id):
        return None
    return session.scalars(
        select(CheckinList).where(CheckinList.event_id == event_id, CheckinList.is_default)
    ).first()


def _may_scan_for(session: Session, principal: Principal, event_id: str) -> bool:
    if principal.role == STAFF:
        return principal.event_id == event_id
    event = session.get(EventInfo, event_id)
    return event is not None and event.organisation_id == principal.organisation_id


def _ticket_view(session: Session, ticket: RosterTicket) -> dict:
    event = session.get(EventInfo, ticket.event_id)
    return {
        "id": ticket.id,
        "event_id": ticket.event_id,
        "attendee_name": ticket.attendee_name,
        "ticket_type_id": ticket.ticket_type_id,
        "ticket_type_name": (event.ticket_type_names or {}).get(ticket.ticket_type_id, ""),
    }


def _previous_view(session: Session, admission: Admission) -> dict:
    checkin_list = session.get(CheckinList, admission.list_id)
    return {
        "scanned_at": admission.admitted_at.isoformat(),
        "list_id": admission.list_id,
        "gate": checkin_list.name,
    }


class _PublicKeys:
    """The key lookup verify_ticket needs, reading only the one key a token names."""

    def __init__(self, session: Session):
        self._session = session

    def get(self, key_id: str):
        key = self._session.get(PublicKey, key_id)
        return load_public_key(key.public_key) if key is not None else None


def record_event(uow: UnitOfWork, data: dict) -> None:
    event_id = str(data["event_id"])
    event = uow.session.get(EventInfo, event_id) or EventInfo(id=event_id)
    event.organisation_id = data["organisation_id"]
    event.title = data["title"]
    event.starts_at = data["starts_at"]
    event.ends_at = data["ends_at"]
    event.early_entry_minutes = data["early_entry_minutes"]
    event.status = data["status"]
    event.ticket_type_names = {str(t["id"]): t["name"] for t in data["ticket_types"]}
    uow.session.add(event)
    uow.session.flush()
    has_default = uow.session.scalars(
        select(CheckinList.id).where(CheckinList.event_id == event_id, CheckinList.is_default)
    ).first()
    if not has_default:
        uow.session.add(
            CheckinList(
                event_id=event_id, name=DEFAULT_LIST_NAME, ticket_type_ids=None, is_default=True
            )
        )


def add_to_roster(uow: UnitOfWork, data: dict) -> None:
    key = data["signing_key"]
    if uow.session.get(PublicKey, key["key_id"]) is None:
        uow.session.add(
            PublicKey(
                key_id=key["key_id"], event_id=str(data["event_id"]), public_key=key["public_key"]
            )
        )
    if uow.session.get(RosterTicket, str(data["ticket_id"])) is None:
        uow.session.add(
            RosterTicket(
                id=str(data["ticket_id"]),
                event_id=str(data["event_id"]),
                registration_id=str(data["registration_id"]),
                ticket_type_id=str(data["ticket_type_id"]),
                attendee_name=data["attendee_name"],
                valid_from=data["valid_from"],
                valid_until=data["valid_until"],
            )
        )


def revoke(uow: UnitOfWork, data: dict) -> None:
    ticket = uow.session.get(RosterTicket, str(data["ticket_id"]))
    if ticket is not None and ticket.revoked_at is None:
        ticket.revoked_at = datetime.now(UTC)


def event_lists(session: Session, principal: Principal, event_id: str) -> list[CheckinList]:
    if not _may_scan_for(session, principal, event_id):
        raise NotFound("No such event.")
    return list(
        session.scalars(
            select(CheckinList).where(CheckinList.event_id == event_id).order_by(CheckinList.name)
        )
    )


def roster_ticket(session: Session, principal: Principal, ticket_id: str) -> dict:
    """A ticket as the door knows it, for manual check-in and support."""
    ticket = session.get(RosterTicket, ticket_id)
    if ticket is None or not _may_scan_for(session, principal, ticket.event_id):
        raise NotFound("No such ticket in the check-in roster.")
    admissions = session.scalars(select(Admission).where(Admission.ticket_id == ticket.id))
    return {
        **_ticket_view(session, ticket),
        "status": "revoked" if ticket.revoked_at else "valid",
        "admissions": [_previous_view(session, admission) for admission in admissions],
    }
