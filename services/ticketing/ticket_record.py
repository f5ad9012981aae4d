"""What an organiser sees of one registration's tickets: the current one, what happened to
them and when, and the mail sent for them. No Flask, no database: built from the rows that
service.py reads.

The tickets are their own history: a registration keeps every ticket it had (a reissue
revokes one and adds its replacement), each with when it was issued and, once revoked, when
and why.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Row

from services.ticketing.models import EventInfo, Ticket
from shared.languages import ENGLISH, locale_from_tag
from shared.mail.outbox import ERASED, ERASING, FAILED, PENDING, SENT, SKIPPED

VALID, REVOKED = "valid", "revoked"
# Why a ticket was revoked (ticket.revoked's reason, and what the ticket page says).
CANCELLED, REISSUED, KEY_RETIRED = "cancelled", "reissued", "key_retired"
REVOKED_BY_ORGANISER = "revoked_by_organiser"
# Revocations that come with a replacement, issued in the same transaction.
REPLACED = frozenset({REISSUED, KEY_RETIRED})

# What a step of the history is: issued, revoked, or a replacement's reason.
ISSUED = "issued"
# What became of a mail, as an organiser reads it (the outbox's states, pending split in
# three by its attempts).
QUEUED, SENDING, FAILING = "queued", "sending", "failing"
MAIL_STATES = {SENT: SENT, FAILED: FAILED, SKIPPED: SKIPPED, ERASING: ERASED, ERASED: ERASED}


@dataclass(frozen=True)
class HistoryStep:
    at: datetime
    # issued, reissued, key_retired (a replacement issued), or revoked.
    what: str
    ticket: Ticket
    # The ticket that took its place, for a reissue or a retired key.
    replacement: Ticket | None = None


@dataclass(frozen=True)
class TicketMail:
    queued_at: datetime
    sent_at: datetime | None
    # queued, sending, failing, sent, failed, skipped or erased.
    state: str
    attempts: int
    ticket_id: str


@dataclass(frozen=True)
class TicketRecord:
    event: EventInfo
    # Oldest first; the current one is the valid ticket, else the latest.
    tickets: list[Ticket]
    current: Ticket
    history: list[HistoryStep]
    mails: list[TicketMail]

    @property
    def mail_locale(self) -> str:
        """The language the current ticket's mail goes in."""
        return mail_locale(self.current)

    def holds(self, ticket_id: str) -> bool:
        """Whether `ticket_id` is one of this registration's tickets."""
        return any(ticket.id == ticket_id for ticket in self.tickets)

    @property
    def current_ticket_mails(self) -> int:
        """How many mails the current ticket has had: what a resend form was shown with."""
        return sum(mail.ticket_id == self.current.id for mail in self.mails)


def ticket_record(event: EventInfo, tickets: list[Ticket], mails: list[Row]) -> TicketRecord:
    """`tickets` oldest first, `mails` the outbox rows of those tickets' mail."""
    valid = [ticket for ticket in tickets if ticket.status == VALID]
    return TicketRecord(
        event=event,
        tickets=tickets,
        current=valid[0] if valid else tickets[-1],
        history=history(tickets),
        mails=[ticket_mail(row) for row in mails],
    )


def history(tickets: list[Ticket]) -> list[HistoryStep]:
    """Issued, then each revocation: a replaced ticket's step names its replacement, whose
    own issuing it is."""
    steps = [HistoryStep(tickets[0].issued_at, ISSUED, tickets[0])]
    for ticket, later in zip(tickets, [*tickets[1:], None], strict=True):
        if ticket.revoked_at is None:
            continue
        if ticket.revoked_reason in REPLACED and later is not None:
            steps.append(HistoryStep(ticket.revoked_at, ticket.revoked_reason, ticket, later))
        else:
            steps.append(HistoryStep(ticket.revoked_at, REVOKED, ticket))
    return steps


def ticket_mail(row: Row) -> TicketMail:
    if row.status == PENDING:
        state = FAILING if row.last_error else SENDING if row.attempts else QUEUED
    else:
        state = MAIL_STATES.get(row.status, row.status)
    return TicketMail(
        queued_at=row.created_at,
        sent_at=row.sent_at,
        state=state,
        attempts=row.attempts,
        ticket_id=row.about_id,
    )


def mail_locale(ticket: Ticket) -> str:
    """The language of the ticket's mail: the attendee's, as registration told it, else
    English."""
    return locale_from_tag(ticket.locale) or ENGLISH
