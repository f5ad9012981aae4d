"""Tickets: issued once per confirmed registration, signed, revoked on cancellation.
No Flask, no broker."""

import hashlib
import hmac
import secrets
import uuid
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.ticketing.models import EventInfo, SigningKey, Ticket
from shared.db import UnitOfWork
from shared.errors import NotFound
from shared.tokens import TicketClaims, new_signing_key, public_key_text, sign_ticket

VALID, REVOKED = "valid", "revoked"


class EventNotKnownYet(RuntimeError):
    """A registration arrived before its event; the consumer retries it."""


def record_event(uow: UnitOfWork, data: dict) -> None:
    event = uow.session.get(EventInfo, str(data["event_id"])) or EventInfo(id=str(data["event_id"]))
    event.organisation_id = data["organisation_id"]
    event.title = data["title"]
    event.venue = data["venue"]
    event.timezone = data["timezone"]
    event.starts_at = data["starts_at"]
    event.ends_at = data["ends_at"]
    event.early_entry_minutes = data["early_entry_minutes"]
    event.status = data["status"]
    event.ticket_type_names = {str(t["id"]): t["name"] for t in data["ticket_types"]}
    uow.session.add(event)


def issue_ticket(uow: UnitOfWork, data: dict) -> Ticket:
    """The ticket of a confirmed registration: made once, signed with the event's key."""
    registration_id = str(data["registration_id"])
    existing = _ticket_of_registration(uow.session, registration_id)
    if existing is not None:
        return existing
    event = uow.session.get(EventInfo, str(data["event_id"]))
    if event is None:
        raise EventNotKnownYet(f"event {data['event_id']} not received yet")
    key = current_signing_key(uow.session, event.id)
    claims = TicketClaims(
        key_id=key.key_id,
        event_id=uuid.UUID(event.id),
        ticket_id=uuid.uuid4(),
        ticket_type_id=data["ticket_type_id"],
        valid_from=event.starts_at - timedelta(minutes=event.early_entry_minutes),
        valid_until=event.ends_at,
    )
    ticket = Ticket(
        id=str(claims.ticket_id),
        registration_id=registration_id,
        event_id=event.id,
        ticket_type_id=str(claims.ticket_type_id),
        attendee_name=data["attendee"]["name"],
        attendee_email=data["attendee"]["email"],
        status=VALID,
        payload=sign_ticket(claims, Ed25519PrivateKey.from_private_bytes(key.private_key)),
        key_id=key.key_id,
        qr_secret=secrets.token_urlsafe(24),
        manage_token_sha256=data["manage_token_sha256"],
        valid_from=claims.valid_from,
        valid_until=claims.valid_until,
    )
    uow.session.add(ticket)
    uow.session.flush()
    uow.publish(
        "ticket.issued",
        {
            "ticket_id": ticket.id,
            "registration_id": ticket.registration_id,
            "event_id": ticket.event_id,
            "ticket_type_id": ticket.ticket_type_id,
            "attendee_name": ticket.attendee_name,
            "valid_from": ticket.valid_from,
            "valid_until": ticket.valid_until,
            "signing_key": {"key_id": key.key_id, "public_key": key.public_key},
        },
    )
    return ticket


def revoke_registration_ticket(uow: UnitOfWork, registration_id: str, reason: str) -> None:
    ticket = _ticket_of_registration(uow.session, registration_id)
    if ticket is None or ticket.status == REVOKED:
        return
    ticket.status = REVOKED
    ticket.revoked_at = datetime.now(UTC)
    uow.publish(
        "ticket.revoked",
        {
            "ticket_id": ticket.id,
            "registration_id": ticket.registration_id,
            "event_id": ticket.event_id,
            "reason": reason,
        },
    )


def current_signing_key(session: Session, event_id: str) -> SigningKey:
    key = session.scalars(
        select(SigningKey)
        .where(SigningKey.event_id == event_id, SigningKey.retired_at.is_(None))
        .order_by(SigningKey.created_at.desc())
        .limit(1)
    ).first()
    if key is None:
        key_id, private_key = new_signing_key()
        key = SigningKey(
            key_id=key_id,
            event_id=event_id,
            private_key=private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()),
            public_key=public_key_text(private_key.public_key()),
        )
        session.add(key)
        session.flush()
    return key


def public_keys(session: Session) -> list[SigningKey]:
    return list(
        session.scalars(
            select(SigningKey)
            .where(SigningKey.retired_at.is_(None))
            .order_by(SigningKey.created_at)
        )
    )


def attendee_ticket(session: Session, registration_id: str, manage_token: str | None) -> Ticket:
    ticket = _ticket_of_registration(session, registration_id)
    if (
        ticket is None
        or not manage_token
        or not hmac.compare_digest(
            ticket.manage_token_sha256, hashlib.sha256(manage_token.encode()).hexdigest()
        )
    ):
        raise NotFound("No ticket for this link (yet): it appears seconds after confirmation.")
    return ticket


def ticket_for_image(session: Session, ticket_id: str, secret: str | None) -> Ticket:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None or not secret or not hmac.compare_digest(ticket.qr_secret, secret):
        raise NotFound("No such ticket image.")
    return ticket


def _ticket_of_registration(session: Session, registration_id: str) -> Ticket | None:
    return session.scalars(select(Ticket).where(Ticket.registration_id == registration_id)).first()
