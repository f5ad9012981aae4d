"""Personal data (Hong Kong PDPO, mainland PIPL): erased on request or after the event's
retention period. An erased registration keeps its status, ticket type, sessions and
check-in time, so counts stay right; its name, email and answers are gone. Consent records
keep the wording that was agreed to and when, which names nobody once the registration is
erased. The record an idempotency key left (idempotency.py), a fingerprint of the request
and the sealed manage token, goes too, as does the registration's own sealed manage token
and the organiser's reason for a refusal; the attendee's status mails are erased as the
shared mail outbox erases (not sent yet: never sent; sent: the copy kept is deleted). Each
erasure publishes registration.erased, so that ticketing and check-in blank their copies
too."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from services.registration.idempotency import forget_event, forget_registration
from services.registration.mail.outbox import forget_attendee_mail
from services.registration.models import Event, Registration
from services.registration.registrations import organiser_registration
from shared.auth import Principal
from shared.bus.events import ERASED_NAME
from shared.bus.outbox import forget_attendees
from shared.db import Transaction

_ERASED = {
    "attendee_name": ERASED_NAME,
    "attendee_email": "",
    "answers": {},
    "sealed_manage_token": None,
    "rejection_reason": None,
}


def erase_attendee(
    tx: Transaction, organiser: Principal, registration_id: str, now: datetime | None = None
) -> Registration:
    """Erase one attendee's personal data, at their request."""
    registration = organiser_registration(tx.session, organiser, registration_id)
    if registration.erased_at is None:
        for name, value in _ERASED.items():
            setattr(registration, name, value)
        forget_registration(tx.session, registration.id)
        registration.erased_at = now or datetime.now(UTC)
        tx.publish("registration.erased", _erased(registration.id, registration.event_id))
        forget_attendees(tx, [registration.id])
        forget_attendee_mail(tx, [registration.id])
    return registration


def erase_after_retention(tx: Transaction, now: datetime | None = None) -> list[str]:
    """Erase the personal data of every event whose retention period has run out; the ids
    of those events."""
    now = now or datetime.now(UTC)
    due = [
        event
        for event in tx.session.scalars(
            select(Event)
            .where(Event.retention_days.is_not(None), Event.personal_data_erased_at.is_(None))
            .with_for_update(skip_locked=True)
        )
        if event.ends_at + timedelta(days=event.retention_days) <= now
    ]
    for event in due:
        erased = tx.session.scalars(
            update(Registration)
            .where(Registration.event_id == event.id, Registration.erased_at.is_(None))
            .values(**_ERASED, erased_at=now)
            .returning(Registration.id)
        ).all()
        forget_event(tx.session, event.id)
        forget_attendees(tx, erased)
        forget_attendee_mail(tx, erased)
        tx.publish("registration.erased", *[_erased(erased_id, event.id) for erased_id in erased])
        event.personal_data_erased_at = now
    return [event.id for event in due]


def _erased(registration_id: str, event_id: str) -> dict:
    return {"registration_id": registration_id, "event_id": event_id}
