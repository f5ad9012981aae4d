"""Places and the waitlist: who holds a place of a ticket type or a seat in a session.

A place is taken with one conditional UPDATE on a counter kept beside its limit
(`confirmed_count < quota`): the database serialises racing registrations on that row, so no
Python lock is needed and no place is ever sold twice, on PostgreSQL or SQLite. Freed places
go to the waitlist in order: at once, or, when the event sets a claim deadline, as an offer
the attendee claims in time or loses to the next one.
"""

from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from services.registration.announcements import (
    announce_cancelled,
    announce_promoted,
    announce_status,
)
from services.registration.mail.outbox import queue_status_mail
from services.registration.models import (
    CANCELLED,
    CANCELLED_EVENT,
    CONFIRMED,
    HOLDING_A_PLACE,
    OFFER_EXPIRED,
    OFFERED,
    REQUESTED,
    WAITLISTED,
    Event,
    Registration,
    Seat,
    TicketType,
    TimeSlot,
)
from shared.db import Transaction


def _taking(model, limit):
    table = model.__table__
    return (
        update(table)
        .where(table.c.id == bindparam("row_id"), table.c.confirmed_count < limit)
        .values(confirmed_count=table.c.confirmed_count + 1)
    )


def _releasing(model):
    table = model.__table__
    return (
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values(confirmed_count=table.c.confirmed_count - 1)
    )


# Built once: the ticket drop runs them thousands of times a minute.
_TAKE = {
    TicketType: _taking(TicketType, TicketType.__table__.c.quota),
    TimeSlot: _taking(TimeSlot, TimeSlot.__table__.c.capacity),
}
_RELEASE = {TicketType: _releasing(TicketType), TimeSlot: _releasing(TimeSlot)}


def _take(session: Session, model, row_id: str) -> bool:
    return session.execute(_TAKE[model], {"row_id": row_id}).rowcount == 1


def _release(session: Session, model, row_id: str) -> None:
    session.execute(_RELEASE[model], {"row_id": row_id})


def take_place(session: Session, ticket_type_id: str) -> bool:
    return _take(session, TicketType, ticket_type_id)


def take_seats(session: Session, places: list[Seat]) -> None:
    """Seat a registration that now holds a place in the sessions it asked for, in session
    order (so concurrent registrations lock session rows in the same order)."""
    for place in places:
        if place.status == REQUESTED:
            place.status = CONFIRMED if _take_seat(session, place.session_id) else WAITLISTED


def confirm(tx: Transaction, registration: Registration, places: list[Seat] | None = None) -> None:
    """The registration holds a place: seat it in its sessions (`places`, when the caller
    has them at hand), announce it and tell the attendee."""
    previous_status = registration.status
    registration.status = CONFIRMED
    registration.offer_expires_at = None
    take_seats(tx.session, places_of(tx.session, registration.id) if places is None else places)
    announce_status(tx, registration)
    queue_status_mail(tx, registration, previous_status)


def fill_from_waitlist(tx: Transaction, event: Event, ticket_type_id: str, now: datetime):
    """Give free places of the ticket type to the waitlist, first come first served."""
    while event.status != CANCELLED_EVENT:
        waiting = _first_in_line(
            tx.session,
            Registration,
            Registration.ticket_type_id == ticket_type_id,
            Registration.created_at,
        )
        if waiting is None or not take_place(tx.session, ticket_type_id):
            return
        announce_promoted(tx, waiting)
        if event.waitlist_claim_minutes:
            waiting.status = OFFERED
            waiting.offer_expires_at = now + timedelta(minutes=event.waitlist_claim_minutes)
            queue_status_mail(tx, waiting, WAITLISTED)
        else:
            confirm(tx, waiting)
        tx.session.flush()


def expire_offers(tx: Transaction, now: datetime | None = None) -> int:
    """Offers not claimed in time lapse; each place goes to the next on the waitlist."""
    now = now or datetime.now(UTC)
    lapsed = list(
        tx.session.scalars(
            select(Registration)
            .where(Registration.status == OFFERED, Registration.offer_expires_at <= now)
            .order_by(Registration.offer_expires_at)
            .with_for_update(skip_locked=True)
        )
    )
    for registration in lapsed:
        leave(tx, registration, OFFER_EXPIRED, "offer_expired", now)
    return len(lapsed)


def leave(tx: Transaction, registration: Registration, status: str, reason: str, now: datetime):
    """End a live registration with `status`, announce it, tell the attendee, and pass what
    it held on to the waitlists (whose next attendee is told in the same transaction)."""
    previous_status = registration.status
    announce_cancelled(tx, registration, previous_status, reason)
    # Written now: the release below takes the counter's row lock, held until the commit,
    # which registrations of the ticket type queue for.
    tx.flush()
    registration.status = status
    registration.offer_expires_at = None
    queue_status_mail(tx, registration, previous_status, reason)
    if previous_status in HOLDING_A_PLACE:
        _release(tx.session, TicketType, registration.ticket_type_id)
        event = tx.session.get(Event, registration.event_id)
        fill_from_waitlist(tx, event, registration.ticket_type_id, now)
    _leave_time_slots(tx.session, registration)


def fill_time_slot_from_waitlist(session: Session, session_id: str) -> None:
    while True:
        waiting = _first_in_line(session, Seat, Seat.session_id == session_id, Seat.requested_at)
        if waiting is None or not _take_seat(session, session_id):
            return
        waiting.status = CONFIRMED
        session.flush()


def _first_in_line(session: Session, model, of_what, joined_at):
    """The waitlisted Registration or Seat `of_what` (a ticket type or a session)
    that joined first, locked; one another transaction is promoting is passed over."""
    return session.scalars(
        select(model)
        .where(of_what, model.status == WAITLISTED)
        .order_by(joined_at, model.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()


def _take_seat(session: Session, session_id: str) -> bool:
    return _take(session, TimeSlot, session_id)


def places_of(session: Session, registration_id: str) -> list[Seat]:
    # In session order, so concurrent registrations lock session rows in the same order.
    return list(
        session.scalars(
            select(Seat).where(Seat.registration_id == registration_id).order_by(Seat.session_id)
        )
    )


def _leave_time_slots(session: Session, registration: Registration) -> None:
    for place in places_of(session, registration.id):
        held = place.status == CONFIRMED
        place.status = CANCELLED
        if held:
            _release(session, TimeSlot, place.session_id)
            session.flush()
            fill_time_slot_from_waitlist(session, place.session_id)
