"""The mail outbox: what a service owes people by mail, and the rules for retrying it.

Each service that sends mail keeps a `mail_outbox` table in its own database
(define_mail_outbox_table), as it keeps its own event outbox. A row says which kind of mail
it is (`kind`: "ticket", "invitation"...) and which of the service's rows it is about
(`about_id`, e.g. the ticket); no body is stored. The service's renderer for that kind makes
the message from its own data as the mail is sent (relay.py), so what an erasure blanks in
the service's tables is never sent afterwards.

A mail is queued in the transaction of the change that causes it (queue_mail), so it exists
exactly when the change does: a transaction that rolls back leaves no mail. The mail relay
claims due mail, sends it, and marks it sent. A failed attempt is tried again after a
growing pause (30 s, doubling, at most an hour apart), for about a day
(LOOPGATE_MAIL_FIRST_RETRY_SECONDS shortens the first pause, for tests): long enough to ride
out a mail server's outage or maintenance, bounded so that a mail that can never go (an
address the server refuses) stops costing anything. Giving up leaves the row, marked failed
with the last error, for an operator to see.

Claiming an attempt moves its next_attempt_at forward before anything is sent, so the claim
doubles as a lease: another relay (another worker process) skips it, and if this one dies
mid-send the mail is simply due again later. Delivery is therefore at least once; a repeat
carries the same Message-ID (delivery.message_id, from the row's id), by which mail clients
recognise it.

An erasure blanks the person's address from their mail, found by `registration_id`
(forget_recipients). Unsent mail is skipped, never to be sent; sent mail is `erasing` until
the relay has deleted the copy it kept (the mailbox folder's .eml file), then `erased`. A
send, a skip or a failure is recorded only on a mail still pending: a mail erased while it
was being sent stays skipped, and the relay deletes the copy it has just written.
"""

from datetime import UTC, datetime, timedelta

from sqlalchemy import Column, Index, Integer, MetaData, Row, String, Table, select, update

from shared.db import Transaction, UnitOfWork
from shared.models import UUID_LENGTH, UtcDateTime, new_id

PENDING, SENT, FAILED, SKIPPED = "pending", "sent", "failed", "skipped"
ERASING, ERASED = "erasing", "erased"

FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)
MAX_ATTEMPTS = 30  # 30 s, 1, 2, 4 ... 32 min, then hourly: about 24 hours in all
ERROR_LENGTH = 500
EMAIL_LENGTH = 320


def define_mail_outbox_table(metadata: MetaData) -> Table:
    """The service's mail outbox, in its own database. `about_id` refers to a row of the
    service's own, but by no foreign key: the library knows none of the services' tables."""
    return Table(
        "mail_outbox",
        metadata,
        Column("id", String(UUID_LENGTH), primary_key=True),
        # What the mail is, which picks its renderer: "ticket", "invitation"...
        Column("kind", String(32), nullable=False),
        Column("about_id", String(UUID_LENGTH), nullable=False, index=True),
        # Whose registration the mail belongs to, by which an erasure finds it; None for mail
        # that belongs to no registration.
        Column("registration_id", String(UUID_LENGTH), nullable=True, index=True),
        Column("recipient", String(EMAIL_LENGTH), nullable=False),
        # pending, sent, failed (gave up or refused by the server), skipped (its renderer
        # found nothing to send any more, or erased before it went), erasing, erased.
        Column("status", String(16), nullable=False),
        Column("attempts", Integer, nullable=False, default=0),
        Column("next_attempt_at", UtcDateTime, nullable=False),
        Column("created_at", UtcDateTime, nullable=False),
        Column("sent_at", UtcDateTime, nullable=True),
        Column("last_error", String(ERROR_LENGTH), nullable=True),
        Index("ix_mail_outbox_due", "status", "next_attempt_at"),
    )


def queue_mail(
    tx: Transaction,
    table: Table,
    kind: str,
    about_id: str,
    recipient: str,
    registration_id: str | None = None,
) -> str:
    """Owe a mail of `kind` about the row `about_id`, with this transaction's other changes
    (inserted at its commit, with its events: Transaction.stage); the mail's id."""
    now = datetime.now(UTC)
    mail_id = new_id()
    row = {
        "id": mail_id,
        "kind": kind,
        "about_id": about_id,
        "registration_id": registration_id,
        "recipient": recipient,
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }
    tx.stage(table, [row])
    return mail_id


def forget_recipients(tx: Transaction, table: Table, registration_ids: list[str]) -> None:
    """In this transaction, erase the address from these registrations' mail (a refusal's
    error names it too): what was not sent yet never will be, and the copies of what was are
    to be deleted (erasing)."""
    # Mail queued earlier in this very transaction is staged, not yet inserted: in with it.
    tx.flush()
    theirs = update(table).where(table.c.registration_id.in_(registration_ids))
    tx.session.execute(theirs.where(table.c.status == PENDING).values(status=SKIPPED))
    tx.session.execute(theirs.where(table.c.status == SENT).values(status=ERASING))
    tx.session.execute(theirs.values(recipient="", last_error=None))


def erasing(uow: UnitOfWork, table: Table) -> list[str]:
    """The ids of erased mail whose copies are still to be deleted."""
    with uow:
        return list(uow.session.scalars(select(table.c.id).where(table.c.status == ERASING)))


def mark_erased(uow: UnitOfWork, table: Table, mail_id: str) -> None:
    with uow:
        uow.session.execute(
            update(table)
            .where(table.c.id == mail_id, table.c.status == ERASING)
            .values(status=ERASED)
        )
        uow.commit()


def retry_delay(attempt: int, first: timedelta = FIRST_RETRY) -> timedelta:
    """The pause after the `attempt`-th attempt (1, 2, ...) before the next one."""
    return min(first * 2 ** (attempt - 1), LONGEST_RETRY)


def claim_next(
    uow: UnitOfWork, table: Table, now: datetime, first_retry: timedelta = FIRST_RETRY
) -> Row | None:
    """The next due mail (its row as it was when due), whose next attempt this caller now
    owns (see the module's note); None when nothing is due."""
    while True:
        with uow:
            due = uow.session.execute(
                select(table)
                .where(table.c.status == PENDING, table.c.next_attempt_at <= now)
                .order_by(table.c.next_attempt_at)
                .limit(1)
            ).first()
            if due is None:
                return None
            # Taken only if no other relay took this attempt since the select.
            taken = uow.session.execute(
                update(table)
                .where(table.c.id == due.id, table.c.attempts == due.attempts)
                .values(
                    attempts=due.attempts + 1,
                    next_attempt_at=now + retry_delay(due.attempts + 1, first_retry),
                )
            ).rowcount
            uow.commit()
            if taken:
                return due


def mark_sent(uow: UnitOfWork, table: Table, mail_id: str, now: datetime) -> bool:
    """False if the mail was erased (skipped) while it was being sent."""
    return _finish(uow, table, mail_id, status=SENT, sent_at=now, last_error=None)


def mark_skipped(uow: UnitOfWork, table: Table, mail_id: str) -> None:
    """Its renderer found nothing to send any more (a ticket revoked before its mail went
    out: a newer mail, if any, replaces it)."""
    _finish(uow, table, mail_id, status=SKIPPED)


def record_failure(uow: UnitOfWork, table: Table, mail_id: str, error: str, permanent: bool) -> str:
    """Note a failed attempt; the mail stays due at its claimed retry time unless the server
    refused it for good or it has had all its attempts. Returns the mail's status."""
    with uow:
        mail = uow.session.execute(
            select(table.c.status, table.c.attempts).where(table.c.id == mail_id)
        ).one()
        if mail.status != PENDING:  # erased meanwhile, and the error may name the address
            return mail.status
        status = FAILED if permanent or mail.attempts >= MAX_ATTEMPTS else PENDING
        uow.session.execute(
            update(table)
            .where(table.c.id == mail_id, table.c.status == PENDING)
            .values(status=status, last_error=error[:ERROR_LENGTH])
        )
        uow.commit()
        return status


def _finish(uow: UnitOfWork, table: Table, mail_id: str, **values) -> bool:
    """Record the outcome of an attempt on a mail still pending; False if it is not."""
    with uow:
        finished = uow.session.execute(
            update(table).where(table.c.id == mail_id, table.c.status == PENDING).values(**values)
        ).rowcount
        uow.commit()
        return bool(finished)
