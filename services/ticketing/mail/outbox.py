"""Ticketing's side of the shared mail outbox (shared/mail/outbox.py, where the retry and
erasure rules live): a ticket's mail is queued in the transaction that issues the ticket, so
it exists exactly when the ticket does, and an erasure reaches the mail of every ticket of
the registration."""

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from services.ticketing.models import Ticket, mail_outbox
from shared.db import Transaction
from shared.mail import outbox

# The mail's states and retry rules, as ticketing's tests and benchmarks read them here.
from shared.mail.outbox import (
    FAILED,
    FIRST_RETRY,
    MAX_ATTEMPTS,
    PENDING,
    SENT,
    SKIPPED,
    retry_delay,
)

__all__ = [
    "FAILED",
    "FIRST_RETRY",
    "MAX_ATTEMPTS",
    "PENDING",
    "SENT",
    "SKIPPED",
    "TICKET_MAIL",
    "forget_recipient",
    "mails_of",
    "queue_ticket_mail",
    "retry_delay",
]

# The kind of ticketing's one mail: about_id is the ticket (relay.render_ticket_mail).
TICKET_MAIL = "ticket"


def queue_ticket_mail(tx: Transaction, ticket: Ticket) -> str:
    return outbox.queue_mail(
        tx,
        mail_outbox,
        kind=TICKET_MAIL,
        about_id=ticket.id,
        recipient=ticket.attendee_email,
        registration_id=ticket.registration_id,
    )


def forget_recipient(tx: Transaction, registration_id: str) -> None:
    """The attendee's address erased from the mail of all the registration's tickets; what
    was not sent yet never will be, and the copies of what was are to be deleted."""
    outbox.forget_recipients(tx, mail_outbox, [registration_id])


def mails_of(session: Session, ticket_ids: list[str]) -> list[Row]:
    """The mail of these tickets, oldest first (an organiser's page of a registration)."""
    return list(
        session.execute(
            select(mail_outbox)
            .where(mail_outbox.c.kind == TICKET_MAIL, mail_outbox.c.about_id.in_(ticket_ids))
            .order_by(mail_outbox.c.created_at)
        )
    )
