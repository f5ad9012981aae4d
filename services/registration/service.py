"""Registration rules: events, ticket types, places, the waitlist. No Flask, no broker.

Places are taken with one conditional UPDATE on the ticket type's counter
(`confirmed_count < quota`): the database serialises racing registrations on that row, so
no Python lock is needed and no place is ever sold twice, on PostgreSQL or SQLite.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.registration.models import Event, Registration, TicketType
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.errors import Conflict, InvalidRequest, NotFound

DRAFT, PUBLISHED, CANCELLED_EVENT = "draft", "published", "cancelled"
CONFIRMED, WAITLISTED, CANCELLED = "confirmed", "waitlisted", "cancelled"


@dataclass(frozen=True)
class NewRegistration:
    registration: Registration
    created: bool


def create_event(uow: UnitOfWork, organiser: Principal, fields: dict) -> Event:
    _check_times(fields["starts_at"], fields["ends_at"])
    with uow:
        event = Event(organisation_id=organiser.organisation_id, status=DRAFT, **fields)
        uow.session.add(event)
        uow.commit()
        return event


def add_ticket_type(uow: UnitOfWork, organiser: Principal, event_id: str, fields: dict):
    with uow:
        event = organiser_event(uow.session, organiser, event_id)
        if event.status == CANCELLED_EVENT:
            raise Conflict("The event is cancelled.")
        ticket_type = TicketType(event_id=event.id, **fields)
        uow.session.add(ticket_type)
        uow.session.flush()
        if event.status == PUBLISHED:
            uow.publish("event.updated", _event_data(uow.session, event))
        uow.commit()
        return ticket_type


def publish_event(uow: UnitOfWork, organiser: Principal, event_id: str) -> Event:
    with uow:
        event = organiser_event(uow.session, organiser, event_id)
        if event.status == CANCELLED_EVENT:
            raise Conflict("A cancelled event cannot be published.")
        if event.status == PUBLISHED:
            return event
        if not ticket_types_of(uow.session, event.id):
            raise Conflict("Add at least one ticket type before publishing.")
        event.status = PUBLISHED
        uow.publish("event.published", _event_data(uow.session, event))
        uow.commit()
        return event


def organiser_event(session: Session, organiser: Principal, event_id: str) -> Event:
    event = session.get(Event, event_id)
    # Another organisation's event answers exactly like a missing one.
    if event is None or event.organisation_id != organiser.organisation_id:
        raise NotFound("No such event.")
    return event


def published_event(session: Session, event_id: str) -> Event:
    event = session.get(Event, event_id)
    if event is None or event.status != PUBLISHED:
        raise NotFound("No such published event.")
    return event


def published_events(session: Session) -> list[Event]:
    return list(
        session.scalars(select(Event).where(Event.status == PUBLISHED).order_by(Event.starts_at))
    )


def ticket_types_of(session: Session, event_id: str) -> list[TicketType]:
    return list(
        session.scalars(
            select(TicketType).where(TicketType.event_id == event_id).order_by(TicketType.name)
        )
    )


def register(
    uow: UnitOfWork,
    event_id: str,
    ticket_type_id: str,
    attendee: dict,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> NewRegistration:
    """Take a place if one is left, else join the waitlist. A repeated key repeats the answer."""
    now = now or datetime.now(UTC)
    try:
        with uow:
            event = published_event(uow.session, event_id)
            if idempotency_key:
                earlier = _by_idempotency_key(uow.session, event.id, idempotency_key)
                if earlier is not None:
                    return NewRegistration(earlier, created=False)
            if now >= event.ends_at:
                raise Conflict("Registration for this event has closed.")
            ticket_type = uow.session.get(TicketType, ticket_type_id)
            if ticket_type is None or ticket_type.event_id != event.id:
                raise InvalidRequest(
                    "Unknown ticket type.",
                    errors={"json": {"ticket_type_id": ["Not a ticket type of this event."]}},
                )
            status = CONFIRMED if _take_place(uow.session, ticket_type.id) else WAITLISTED
            registration = Registration(
                event_id=event.id,
                ticket_type_id=ticket_type.id,
                attendee_name=attendee["name"],
                attendee_email=attendee["email"],
                status=status,
                manage_token=secrets.token_urlsafe(24),
                idempotency_key=idempotency_key,
            )
            uow.session.add(registration)
            uow.session.flush()
            _announce(uow, registration)
            uow.commit()
            return NewRegistration(registration, created=True)
    except IntegrityError:
        if not idempotency_key:
            raise
        # The same key raced us and won: answer with its registration.
        with uow:
            return NewRegistration(
                _by_idempotency_key(uow.session, event_id, idempotency_key), created=False
            )


def attendee_registration(session: Session, registration_id: str, manage_token: str | None):
    registration = session.get(Registration, registration_id)
    if (
        registration is None
        or not manage_token
        or not hmac.compare_digest(registration.manage_token, manage_token)
    ):
        raise NotFound("No such registration for this link.")
    return registration


def cancel(uow: UnitOfWork, registration_id: str, manage_token: str | None) -> Registration:
    """Cancel a registration; a freed place goes at once to the first on the waitlist."""
    with uow:
        attendee_registration(uow.session, registration_id, manage_token)
        registration = uow.session.scalars(
            select(Registration).where(Registration.id == registration_id).with_for_update()
        ).one()
        if registration.status == CANCELLED:
            return registration
        previous_status = registration.status
        registration.status = CANCELLED
        uow.publish(
            "registration.cancelled",
            {**_ids(registration), "previous_status": previous_status},
        )
        if previous_status == CONFIRMED:
            _release_place(uow.session, registration.ticket_type_id)
            _promote_next(uow, registration.ticket_type_id)
        uow.commit()
        return registration


def event_registrations(session: Session, organiser: Principal, event_id: str):
    event = organiser_event(session, organiser, event_id)
    return list(
        session.scalars(
            select(Registration)
            .where(Registration.event_id == event.id)
            .order_by(Registration.created_at)
        )
    )


def manage_token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _take_place(session: Session, ticket_type_id: str) -> bool:
    taken = session.execute(
        update(TicketType)
        .where(TicketType.id == ticket_type_id, TicketType.confirmed_count < TicketType.quota)
        .values(confirmed_count=TicketType.confirmed_count + 1)
        .execution_options(synchronize_session=False)
    )
    return taken.rowcount == 1


def _release_place(session: Session, ticket_type_id: str) -> None:
    session.execute(
        update(TicketType)
        .where(TicketType.id == ticket_type_id)
        .values(confirmed_count=TicketType.confirmed_count - 1)
        .execution_options(synchronize_session=False)
    )


def _promote_next(uow: UnitOfWork, ticket_type_id: str) -> None:
    waiting = uow.session.scalars(
        select(Registration)
        .where(Registration.ticket_type_id == ticket_type_id, Registration.status == WAITLISTED)
        .order_by(Registration.created_at, Registration.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()
    if waiting is None or not _take_place(uow.session, ticket_type_id):
        return
    waiting.status = CONFIRMED
    uow.publish("registration.promoted", _ids(waiting))
    _announce(uow, waiting)


def _announce(uow: UnitOfWork, registration: Registration) -> None:
    if registration.status == CONFIRMED:
        uow.publish(
            "registration.confirmed",
            {
                **_ids(registration),
                "attendee": {
                    "name": registration.attendee_name,
                    "email": registration.attendee_email,
                },
                "manage_token_sha256": manage_token_digest(registration.manage_token),
            },
        )
    elif registration.status == WAITLISTED:
        uow.publish("registration.waitlisted", _ids(registration))


def _ids(registration: Registration) -> dict:
    return {
        "registration_id": registration.id,
        "event_id": registration.event_id,
        "ticket_type_id": registration.ticket_type_id,
    }


def _by_idempotency_key(session: Session, event_id: str, key: str) -> Registration | None:
    return session.scalars(
        select(Registration).where(
            Registration.event_id == event_id, Registration.idempotency_key == key
        )
    ).first()


def _check_times(starts_at: datetime, ends_at: datetime) -> None:
    if ends_at <= starts_at:
        raise InvalidRequest(
            "The event must end after it starts.",
            errors={"json": {"ends_at": ["Must be later than starts_at."]}},
        )


def _event_data(session: Session, event: Event) -> dict:
    return {
        "event_id": event.id,
        "organisation_id": event.organisation_id,
        "title": event.title,
        "starts_at": event.starts_at,
        "ends_at": event.ends_at,
        "timezone": event.timezone,
        "venue": event.venue,
        "early_entry_minutes": event.early_entry_minutes,
        "status": event.status,
        "ticket_types": [{"id": t.id, "name": t.name} for t in ticket_types_of(session, event.id)],
    }


def record_arrival(uow: UnitOfWork, registration_id: str, scanned_at: datetime) -> None:
    """Remember the first admitted scan, so organisers see who came."""
    registration = uow.session.get(Registration, registration_id)
    if registration is not None and (
        registration.checked_in_at is None or scanned_at < registration.checked_in_at
    ):
        registration.checked_in_at = scanned_at
