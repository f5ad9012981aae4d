"""What the registration service tells the bus: the data of each event type it publishes."""

from sqlalchemy import select

from services.registration.models import CONFIRMED, WAITLISTED, Event, Registration, TicketType
from shared.db import Transaction


def ids(registration: Registration) -> dict:
    return {
        "registration_id": registration.id,
        "event_id": registration.event_id,
        "ticket_type_id": registration.ticket_type_id,
    }


def announce_status(tx: Transaction, registration: Registration) -> str | None:
    """Tell the bus a registration is now confirmed or waitlisted; the event's envelope id."""
    if registration.status == CONFIRMED:
        (envelope_id,) = tx.publish(
            "registration.confirmed",
            {
                **ids(registration),
                "attendee": {
                    "name": registration.attendee_name,
                    "email": registration.attendee_email,
                    "locale": registration.language,
                },
                "manage_token_sha256": registration.manage_token_sha256,
            },
        )
        return envelope_id
    if registration.status == WAITLISTED:
        (envelope_id,) = tx.publish("registration.waitlisted", ids(registration))
        return envelope_id
    return None


def announce_promoted(tx: Transaction, registration: Registration) -> None:
    tx.publish("registration.promoted", ids(registration))


def announce_cancelled(
    tx: Transaction, registration: Registration, previous_status: str, reason: str
) -> None:
    tx.publish(
        "registration.cancelled",
        {**ids(registration), "previous_status": previous_status, "reason": reason},
    )


def announce_event(tx: Transaction, event_type: str, event: Event) -> None:
    """event.published or event.updated, with the event's ticket types."""
    ticket_types = tx.session.scalars(
        select(TicketType).where(TicketType.event_id == event.id).order_by(TicketType.name)
    )
    tx.publish(
        event_type,
        {
            "event_id": event.id,
            "organisation_id": event.organisation_id,
            "title": event.title,
            "starts_at": event.starts_at,
            "ends_at": event.ends_at,
            "timezone": event.timezone,
            "venue": event.venue,
            "early_entry_minutes": event.early_entry_minutes,
            "status": event.status,
            "translations": _texts(event.translations, ("title", "venue")),
            "ticket_types": [
                {"id": t.id, "name": t.name, "translations": _texts(t.translations, ("name",))}
                for t in ticket_types
            ],
        },
    )


def _texts(translations: dict | None, keys: tuple[str, ...]) -> dict:
    """The organiser's texts by language that the other services show, and only those."""
    return {
        locale: {key: texts[key] for key in keys if texts.get(key)}
        for locale, texts in (translations or {}).items()
    }
