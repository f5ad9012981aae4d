"""The mail outbox: what is owed to attendees by mail, and the rules for retrying it.

A ticket's mail is queued in the transaction that issues the ticket, so it exists exactly
when the ticket does. The mail relay claims due mail, sends it, and marks it sent. A failed
attempt is tried again after a growing pause (30 s, doubling, at most an hour apart), for
about a day (LOOPGATE_MAIL_FIRST_RETRY_SECONDS shortens the first pause, for tests): long
enough to ride out a mail server's outage or maintenance, bounded so that a mail that can
never go (an address the server refuses) stops costing anything. Giving up
leaves the row, marked failed with the last error, for an operator to see.

Claiming an attempt moves its next_attempt_at forward before anything is sent, so the claim
doubles as a lease: another relay (another worker process) skips it, and if this one dies
mid-send the mail is simply due again later. Delivery is therefore at least once; a repeat
carries the same Message-ID, by which mail clients recognise it.

An erasure (registration.erased) blanks the attendee's address from their mail. Unsent mail
is skipped, never to be sent; sent mail is `erasing` until the relay has deleted the copy it
kept (the mailbox folder's .eml file), then `erased`. A send, a skip or a failure is
recorded only on a mail still pending: a mail erased while it was being sent stays skipped,
and the relay deletes the copy it has just written.
"""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.ticketing.models import OutgoingMail, Ticket
from shared.db import UnitOfWork

PENDING, SENT, FAILED, SKIPPED = "pending", "sent", "failed", "skipped"
ERASING, ERASED = "erasing", "erased"

FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)
MAX_ATTEMPTS = 30  # 30 s, 1, 2, 4 ... 32 min, then hourly: about 24 hours in all
ERROR_LENGTH = 500


def queue_ticket_mail(session: Session, ticket: Ticket) -> OutgoingMail:
    mail = OutgoingMail(
        ticket_id=ticket.id,
        recipient=ticket.attendee_email,
        status=PENDING,
        next_attempt_at=datetime.now(UTC),
    )
    session.add(mail)
    return mail


def forget_recipient(session: Session, ticket_ids: list[str]) -> None:
    """The attendee's address erased from these tickets' mail (a refusal's error names it
    too); what was not sent yet never will be, and the copies of what was are to be deleted."""
    mails = update(OutgoingMail).where(OutgoingMail.ticket_id.in_(ticket_ids))
    session.execute(mails.where(OutgoingMail.status == PENDING).values(status=SKIPPED))
    session.execute(mails.where(OutgoingMail.status == SENT).values(status=ERASING))
    session.execute(mails.values(recipient="", last_error=None))


def erasing(uow: UnitOfWork) -> list[str]:
    """The ids of erased mail whose copies are still to be deleted."""
    with uow:
        return list(
            uow.session.scalars(select(OutgoingMail.id).where(OutgoingMail.status == ERASING))
        )


def mark_erased(uow: UnitOfWork, mail_id: str) -> None:
    with uow:
        uow.session.execute(
            update(OutgoingMail)
            .where(OutgoingMail.id == mail_id, OutgoingMail.status == ERASING)
            .values(status=ERASED)
        )
        uow.commit()


def retry_delay(attempt: int, first: timedelta = FIRST_RETRY) -> timedelta:
    """The pause after the `attempt`-th attempt (1, 2, ...) before the next one."""
    return min(first * 2 ** (attempt - 1), LONGEST_RETRY)


def claim_next(uow: UnitOfWork, now: datetime, first_retry: timedelta = FIRST_RETRY) -> str | None:
    """The id of the next due mail, whose next attempt this caller now owns (see the
    module's note); None when nothing is due."""
    while True:
        with uow:
            due = uow.session.execute(
                select(OutgoingMail.id, OutgoingMail.attempts)
                .where(OutgoingMail.status == PENDING, OutgoingMail.next_attempt_at <= now)
                .order_by(OutgoingMail.next_attempt_at)
                .limit(1)
            ).first()
            if due is None:
                return None
            # Taken only if no other relay took this attempt since the select.
            taken = uow.session.execute(
                update(OutgoingMail)
                .where(OutgoingMail.id == due.id, OutgoingMail.attempts == due.attempts)
                .values(
                    attempts=due.attempts + 1,
                    next_attempt_at=now + retry_delay(due.attempts + 1, first_retry),
                )
            ).rowcount
            uow.commit()
            if taken:
                return due.id


def mark_sent(uow: UnitOfWork, mail_id: str, now: datetime) -> bool:
    """False if the mail was erased (skipped) while it was being sent."""
    return _finish(uow, mail_id, status=SENT, sent_at=now, last_error=None)


def mark_skipped(uow: UnitOfWork, mail_id: str) -> None:
    """The ticket was revoked before its mail went out: a newer mail, if any, replaces it."""
    _finish(uow, mail_id, status=SKIPPED)


def record_failure(uow: UnitOfWork, mail_id: str, error: str, permanent: bool) -> str:
    """Note a failed attempt; the mail stays due at its claimed retry time unless the server
    refused it for good or it has had all its attempts. Returns the mail's status."""
    with uow:
        mail = uow.session.get(OutgoingMail, mail_id)
        if mail.status != PENDING:  # erased meanwhile, and the error may name the address
            return mail.status
        mail.last_error = error[:ERROR_LENGTH]
        if permanent or mail.attempts >= MAX_ATTEMPTS:
            mail.status = FAILED
        uow.commit()
        return mail.status


def _finish(uow: UnitOfWork, mail_id: str, **values) -> bool:
    """Record the outcome of an attempt on a mail still pending; False if it is not."""
    with uow:
        finished = uow.session.execute(
            update(OutgoingMail)
            .where(OutgoingMail.id == mail_id, OutgoingMail.status == PENDING)
            .values(**values)
        ).rowcount
        uow.commit()
        return bool(finished)
