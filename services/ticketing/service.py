"""Tickets: issued once per confirmed registration, signed with the event's current key,
revoked on cancellation or by an organiser, reissued or mailed again by an organiser;
signing keys rotated and retired. No Flask, no broker.

A registration keeps all its tickets; at most one is valid (the database holds to it), and
that one, or else the latest, is the registration's current ticket.
"""

import uuid
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.ticketing import ticket_secrets
from services.ticketing.mail import outbox as mail_outbox
from services.ticketing.models import (
    CancelledRegistration,
    ErasedRegistration,
    EventInfo,
    SigningKey,
    Ticket,
    TicketImage,
)
from services.ticketing.qr_codes import QrImages, qr_images
from services.ticketing.ticket_record import (
    KEY_RETIRED,
    REISSUED,
    REVOKED,
    REVOKED_BY_ORGANISER,
    VALID,
    TicketRecord,
    ticket_record,
)
from shared.auth import Principal, limited_to, secrets_equal, token_digest
from shared.bus.events import ERASED_NAME
from shared.bus.outbox import forget_attendees
from shared.db import Transaction, UnitOfWork
from shared.errors import N_, Conflict, NotFound
from shared.secret_box import SecretBox
from shared.tokens import TicketClaims, new_signing_key, public_key_text, sign_ticket

NO_SUCH_TICKET = N_("No such ticket.")


class EventNotKnownYet(RuntimeError):
    """A registration arrived before its event; the consumer retries it."""


@dataclass(frozen=True)
class RetiredKey:
    key: SigningKey
    # Valid tickets the key had signed, each replaced by a new one under the current key.
    reissued_tickets: int


def record_event(tx: Transaction, data: dict) -> None:
    event = tx.session.get(EventInfo, str(data["event_id"])) or EventInfo(id=str(data["event_id"]))
    event.organisation_id = data["organisation_id"]
    event.title = data["title"]
    event.venue = data["venue"]
    event.timezone = data["timezone"]
    event.starts_at = data["starts_at"]
    event.ends_at = data["ends_at"]
    event.early_entry_minutes = data["early_entry_minutes"]
    event.status = data["status"]
    event.ticket_type_names = {str(t["id"]): t["name"] for t in data["ticket_types"]}
    event.translations = _translations(data)
    tx.session.add(event)


def _translations(data: dict) -> dict:
    """event.published/updated's texts by language, the ticket types' names among them."""
    translations = {locale: dict(texts) for locale, texts in data["translations"].items()}
    for ticket_type in data["ticket_types"]:
        for locale, texts in ticket_type["translations"].items():
            if texts.get("name"):
                names = translations.setdefault(locale, {}).setdefault("ticket_type_names", {})
                names[str(ticket_type["id"])] = texts["name"]
    return translations


# --- issuing, revoking, reissuing ---------------------------------------------------------


def issue_ticket(tx: Transaction, data: dict) -> Ticket | None:
    """The ticket of a confirmed registration: made once, whatever the bus redelivers, and
    never for a registration already cancelled."""
    registration_id = str(data["registration_id"])
    existing = _current_ticket(tx.session, registration_id)
    if existing is not None:
        return existing
    if tx.session.get(CancelledRegistration, registration_id) is not None:
        return None
    event = tx.session.get(EventInfo, str(data["event_id"]))
    if event is None:
        raise EventNotKnownYet(f"event {data['event_id']} not received yet")
    attendee = data["attendee"]
    if tx.session.get(ErasedRegistration, registration_id) is not None:
        attendee = {**attendee, **_ERASED_ATTENDEE}
    return _issue(
        tx,
        event,
        registration_id=registration_id,
        ticket_type_id=str(data["ticket_type_id"]),
        attendee_name=attendee["name"],
        attendee_email=attendee["email"],
        locale=attendee.get("locale"),
        manage_token_sha256=data["manage_token_sha256"],
    )


def revoke_registration_ticket(tx: Transaction, registration_id: str, reason: str) -> None:
    ticket = tx.session.scalars(
        select(Ticket).where(Ticket.registration_id == registration_id, Ticket.status == VALID)
    ).first()
    if ticket is not None:
        _revoke(tx, ticket, reason)
    if tx.session.get(CancelledRegistration, registration_id) is None:
        tx.session.add(CancelledRegistration(registration_id=registration_id))


_ERASED_ATTENDEE = {"name": ERASED_NAME, "email": ""}


def erase_attendee(tx: Transaction, registration_id: str) -> None:
    """Blank the attendee's name and email on every ticket of the registration, and on its
    mail; a ticket issued later is issued without them."""
    tickets = tx.session.scalars(select(Ticket).where(Ticket.registration_id == registration_id))
    for ticket in tickets:
        ticket.attendee_name, ticket.attendee_email = ERASED_NAME, ""
    mail_outbox.forget_recipient(tx, registration_id)
    forget_attendees(tx, [registration_id])
    if tx.session.get(ErasedRegistration, registration_id) is None:
        tx.session.add(ErasedRegistration(registration_id=registration_id))


def reissue_ticket(uow: UnitOfWork, organiser: Principal, ticket_id: str) -> Ticket:
    """A new ticket (new id, new token, mailed again) in place of a valid one, which is
    revoked: for a lost phone or a token that was shared."""
    with uow:
        # Also what a second click on the same button gets: one reissue, not two.
        already = N_("This ticket is already revoked; reissue the registration's current one.")
        ticket, event = _organisers_valid_ticket(uow, organiser, ticket_id, already)
        replacement = _replace(uow, event, ticket, REISSUED)
        uow.commit()
        return replacement


def revoke_ticket(uow: UnitOfWork, organiser: Principal, ticket_id: str) -> Ticket:
    """Revoke a valid ticket for good, with no replacement: it admits no one from now on
    (the door learns it from ticket.revoked, as from a cancellation)."""
    with uow:
        ticket, _ = _organisers_valid_ticket(
            uow, organiser, ticket_id, N_("This ticket is already revoked.")
        )
        _revoke(uow, ticket, REVOKED_BY_ORGANISER)
        uow.commit()
        return ticket


def resend_ticket_mail(
    uow: UnitOfWork, organiser: Principal, ticket_id: str, mails_seen: int
) -> bool:
    """Mail a valid ticket to its attendee again, as its issuing did (the outbox, their
    language). `mails_seen` is how many mails of the ticket the organiser's page showed: if
    there are more now, this is a repeat of a resend already queued (a double click, a
    retried form), and nothing more is queued. Whether a mail was queued."""
    with uow:
        ticket, _ = _organisers_valid_ticket(
            uow, organiser, ticket_id, N_("This ticket is revoked: there is nothing to resend.")
        )
        if not ticket.attendee_email:
            raise Conflict(N_("The attendee's address was erased: there is nowhere to send it."))
        if len(mail_outbox.mails_of(uow.session, [ticket.id])) != mails_seen:
            return False
        mail_outbox.queue_ticket_mail(uow, ticket)
        uow.commit()
        return True


def _organisers_valid_ticket(
    uow: UnitOfWork, organiser: Principal, ticket_id: str, revoked_message: str
) -> tuple[Ticket, EventInfo]:
    """A valid ticket of an event the organiser may open, locked for this transaction;
    Conflict with `revoked_message` once it is revoked."""
    ticket = uow.session.scalars(
        select(Ticket).where(Ticket.id == ticket_id).with_for_update()
    ).first()
    event = uow.session.get(EventInfo, ticket.event_id) if ticket else None
    # Another organisation's ticket answers exactly like a missing one.
    if event is None or not organiser.may_open(event.organisation_id, event.id):
        raise NotFound(NO_SUCH_TICKET)
    if ticket.status != VALID:
        raise Conflict(revoked_message)
    return ticket, event


def _issue(tx: Transaction, event: EventInfo, **holder) -> Ticket:
    """Sign a new valid ticket for `holder` (see _holder), announce it and queue its mail."""
    key = current_signing_key(tx, event.id)
    claims = TicketClaims(
        key_id=key.key_id,
        event_id=uuid.UUID(event.id),
        ticket_id=uuid.uuid4(),
        ticket_type_id=uuid.UUID(holder["ticket_type_id"]),
        valid_from=event.starts_at - timedelta(minutes=event.early_entry_minutes),
        valid_until=event.ends_at,
    )
    ticket = Ticket(
        id=str(claims.ticket_id),
        event_id=event.id,
        status=VALID,
        payload=sign_ticket(claims, ticket_secrets.open_private_key(tx.secret_box, key)),
        key_id=key.key_id,
        qr_key_sha256=token_digest(ticket_secrets.url_key(tx.secret_box, str(claims.ticket_id))),
        valid_from=claims.valid_from,
        valid_until=claims.valid_until,
        **holder,
    )
    tx.session.add(ticket)
    tx.session.flush()
    tx.publish(
        "ticket.issued",
        {
            "ticket_id": ticket.id,
            "registration_id": ticket.registration_id,
            "event_id": ticket.event_id,
            "ticket_type_id": ticket.ticket_type_id,
            "attendee_name": ticket.attendee_name,
            # Door staff search by it; an erased attendee has none.
            "attendee_email": ticket.attendee_email or None,
            "valid_from": ticket.valid_from,
            "valid_until": ticket.valid_until,
            "signing_key": {"key_id": key.key_id, "public_key": key.public_key},
            "token_sha256": token_digest(ticket.payload),
        },
    )
    if ticket.attendee_email:
        mail_outbox.queue_ticket_mail(tx, ticket)
    return ticket


def _revoke(tx: Transaction, ticket: Ticket, reason: str) -> None:
    ticket.status = REVOKED
    ticket.revoked_at = datetime.now(UTC)
    ticket.revoked_reason = reason
    # Written now, before any replacement is added: one valid ticket per registration.
    tx.session.flush()
    tx.publish(
        "ticket.revoked",
        {
            "ticket_id": ticket.id,
            "registration_id": ticket.registration_id,
            "event_id": ticket.event_id,
            "reason": reason,
        },
    )


def _replace(tx: Transaction, event: EventInfo, ticket: Ticket, reason: str) -> Ticket:
    _revoke(tx, ticket, reason)
    return _issue(tx, event, **_holder(ticket))


def _holder(ticket: Ticket) -> dict:
    """What a ticket says about its registration and attendee: kept by a replacement."""
    return {
        "registration_id": ticket.registration_id,
        "ticket_type_id": ticket.ticket_type_id,
        "attendee_name": ticket.attendee_name,
        "attendee_email": ticket.attendee_email,
        "locale": ticket.locale,
        "manage_token_sha256": ticket.manage_token_sha256,
    }


# --- signing keys -------------------------------------------------------------------------


def current_signing_key(tx: Transaction, event_id: str) -> SigningKey:
    """The event's newest unretired key, made if there is none (first ticket, or every key
    retired)."""
    key = tx.session.scalars(
        select(SigningKey)
        .where(SigningKey.event_id == event_id, SigningKey.retired_at.is_(None))
        .order_by(SigningKey.created_at.desc())
        .limit(1)
    ).first()
    return key or _new_signing_key(tx, event_id)


def rotate_signing_key(uow: UnitOfWork, organiser: Principal, event_id: str) -> SigningKey:
    """A new key that signs the event's tickets from now on; the tickets signed before keep
    verifying with their keys until those are retired."""
    with uow:
        event = _organiser_event(uow.session, organiser, event_id)
        key = _new_signing_key(uow, event.id)
        uow.commit()
        return key


def retire_signing_key(
    uow: UnitOfWork, organiser: Principal, event_id: str, key_id: str
) -> RetiredKey:
    """Stop trusting a key. Every valid ticket it signed is reissued under the event's
    current key (made at once if this was the only one) and mailed again, so no attendee is
    left with a ticket the door no longer accepts; the door learns it all from the
    ticket.revoked and ticket.issued events."""
    with uow:
        event = _organiser_event(uow.session, organiser, event_id)
        key = uow.session.scalars(
            select(SigningKey)
            .where(SigningKey.key_id == key_id, SigningKey.event_id == event.id)
            .with_for_update()
        ).first()
        if key is None:
            raise NotFound(N_("No such key for this event."))
        if key.retired_at is not None:
            raise Conflict(N_("This key is already retired."))
        key.retired_at = datetime.now(UTC)
        uow.session.flush()
        signed = uow.session.scalars(
            select(Ticket)
            .where(Ticket.key_id == key.key_id, Ticket.status == VALID)
            .order_by(Ticket.issued_at)
            .with_for_update()
        ).all()
        for ticket in signed:
            _replace(uow, event, ticket, KEY_RETIRED)
        uow.publish(
            "signing_key.retired",
            {"key_id": key.key_id, "event_id": key.event_id, "retired_at": key.retired_at},
        )
        uow.commit()
        return RetiredKey(key=key, reissued_tickets=len(signed))


def organisation_signing_keys(session: Session, organiser: Principal) -> list[SigningKey]:
    """The keys of the organiser's own events, retired ones included, oldest first."""
    return list(
        session.scalars(
            select(SigningKey)
            .join(EventInfo, EventInfo.id == SigningKey.event_id)
            .where(EventInfo.organisation_id == organiser.organisation_id)
            .where(limited_to(EventInfo.id, organiser))
            .order_by(SigningKey.created_at)
        )
    )


def event_signing_keys(session: Session, organiser: Principal, event_id: str) -> list[SigningKey]:
    """All keys of an event, retired ones included, oldest first."""
    event = _organiser_event(session, organiser, event_id)
    return list(
        session.scalars(
            select(SigningKey)
            .where(SigningKey.event_id == event.id)
            .order_by(SigningKey.created_at)
        )
    )


@dataclass(frozen=True)
class KeyInUse:
    key: SigningKey
    # The valid tickets it signed: those that retiring it reissues.
    valid_tickets: int
    signs_new_tickets: bool


@dataclass(frozen=True)
class EventKeys:
    event: EventInfo
    # Oldest first, retired ones included.
    keys: list[KeyInUse]

    def key(self, key_id: str) -> KeyInUse:
        found = next((k for k in self.keys if k.key.key_id == key_id), None)
        if found is None:
            raise NotFound(N_("No such key for this event."))
        return found


def event_keys_in_use(session: Session, organiser: Principal, event_id: str) -> EventKeys:
    """An event's keys for its organiser's page: which signs new tickets, and how many
    valid tickets each signed (one grouped count)."""
    keys = event_signing_keys(session, organiser, event_id)
    counts = dict(
        session.execute(
            select(Ticket.key_id, func.count())
            .where(Ticket.event_id == event_id, Ticket.status == VALID)
            .group_by(Ticket.key_id)
        ).all()
    )
    unretired = [key for key in keys if key.retired_at is None]
    signing = unretired[-1] if unretired else None
    return EventKeys(
        event=session.get(EventInfo, event_id),
        keys=[KeyInUse(key, counts.get(key.key_id, 0), key is signing) for key in keys],
    )


def _new_signing_key(tx: Transaction, event_id: str) -> SigningKey:
    key_id, private_key = new_signing_key()
    key = SigningKey(
        key_id=key_id,
        event_id=event_id,
        sealed_private_key=ticket_secrets.seal_private_key(
            tx.secret_box, key_id, event_id, private_key
        ),
        public_key=public_key_text(private_key.public_key()),
    )
    tx.session.add(key)
    tx.session.flush()
    return key


# --- reading tickets ----------------------------------------------------------------------


def attendee_ticket(session: Session, registration_id: str, manage_token: str | None) -> Ticket:
    """The registration's current ticket, for the holder of its manage token."""
    ticket = _current_ticket(session, registration_id)
    if (
        ticket is None
        or not manage_token
        or not secrets_equal(ticket.manage_token_sha256, token_digest(manage_token))
    ):
        raise NotFound(N_("No ticket for this link (yet): it appears seconds after confirmation."))
    return ticket


def ticket_by_key(session: Session, box: SecretBox, ticket_id: str, key: str | None) -> Ticket:
    """A ticket opened with its own unguessable key (its image and page URLs carry it)."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None or not ticket_secrets.opens_ticket(box, ticket, key):
        raise NotFound(NO_SUCH_TICKET)
    return ticket


def event_tickets(
    session: Session, organiser: Principal, event_id: str, registration_id: str | None = None
) -> list[Ticket]:
    """An event's tickets, revoked ones included, in the order they were issued."""
    event = _organiser_event(session, organiser, event_id)
    query = select(Ticket).where(Ticket.event_id == event.id)
    if registration_id is not None:
        query = query.where(Ticket.registration_id == registration_id)
    return list(session.scalars(query.order_by(Ticket.issued_at)))


def registration_ticket_record(
    session: Session, organiser: Principal, registration_id: str
) -> TicketRecord:
    """A registration's tickets for its organiser: the current one, their history and
    their mail. NotFound until ticketing has issued one (and for another organisation's)."""
    tickets = list(
        session.scalars(
            select(Ticket)
            .where(Ticket.registration_id == registration_id)
            .order_by(Ticket.issued_at)
        )
    )
    event = session.get(EventInfo, tickets[0].event_id) if tickets else None
    if event is None or not organiser.may_open(event.organisation_id, event.id):
        raise NotFound(N_("Ticketing has no ticket for this registration."))
    mails = mail_outbox.mails_of(session, [ticket.id for ticket in tickets])
    return ticket_record(event, tickets, mails)


def ticket_event(session: Session, ticket: Ticket) -> EventInfo:
    return session.get(EventInfo, ticket.event_id)


def replaces_earlier_ticket(session: Session, ticket: Ticket) -> bool:
    """Whether the registration had a ticket before this one (its mail says the old one no
    longer works)."""
    earlier = select(Ticket.id).where(
        Ticket.registration_id == ticket.registration_id, Ticket.issued_at < ticket.issued_at
    )
    return session.scalar(select(earlier.exists()))


def ticket_images(uow: UnitOfWork, ticket: Ticket) -> QrImages:
    """The ticket's QR images, rendered on first use and kept.

    Rendering takes tens of milliseconds of CPU (qrcode picks the best mask in pure Python).
    A cache in each process (an lru_cache) would render every ticket again in each gunicorn
    worker and after each restart, and evict at a large event; the images are stored beside
    the ticket instead, so every later view, page and mail anywhere reads them by primary key.
    They never change (a new token is a new ticket), so browsers may keep them too.
    """
    with uow:
        stored = _stored_images(uow.session, ticket.id)
    return stored or _render_and_keep(uow, ticket)


def images_by_key(uow: UnitOfWork, ticket_id: str, key: str | None) -> QrImages:
    """A ticket's QR images for its image URLs, in one transaction when they are stored."""
    with uow:
        ticket = ticket_by_key(uow.session, uow.secret_box, ticket_id, key)
        stored = _stored_images(uow.session, ticket.id)
    return stored or _render_and_keep(uow, ticket)


def _stored_images(session: Session, ticket_id: str) -> QrImages | None:
    stored = session.get(TicketImage, ticket_id)
    return QrImages(png=stored.png, svg=stored.svg) if stored is not None else None


def _render_and_keep(uow: UnitOfWork, ticket: Ticket) -> QrImages:
    # Rendered outside any transaction: on SQLite a transaction holds the write lock.
    images = qr_images(ticket.payload)
    # Another process may have stored the same images a moment ago: theirs stand.
    with uow, suppress(IntegrityError):
        uow.session.add(TicketImage(ticket_id=ticket.id, png=images.png, svg=images.svg))
        uow.commit()
    return images


def _current_ticket(session: Session, registration_id: str) -> Ticket | None:
    """The valid ticket of a registration, else its latest one."""
    return session.scalars(
        select(Ticket)
        .where(Ticket.registration_id == registration_id)
        .order_by((Ticket.status == VALID).desc(), Ticket.issued_at.desc())
        .limit(1)
    ).first()


def _organiser_event(session: Session, organiser: Principal, event_id: str) -> EventInfo:
    event = session.get(EventInfo, event_id)
    # Another organisation's event answers exactly like a missing one.
    if event is None or not organiser.may_open(event.organisation_id, event.id):
        raise NotFound(N_("No such event."))
    return event
