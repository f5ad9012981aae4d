"""Who a new registration admits: the rule alone, plain Python, no database.

Given the published event and the ticket type as they stand, and the time, `admit` decides
the status a new registration gets (confirmed while places are left, else waitlisted;
pending_approval when the organiser decides) or refuses it outside the sales window.
service.register reads the two records in its one SELECT, and the counter's conditional
UPDATE then has the last word on the place (service._announce_then_take_place).
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from services.registration.models import CONFIRMED, PENDING_APPROVAL, WAITLISTED
from shared.errors import N_, Conflict


@dataclass(frozen=True)
class EventTerms:
    """What of the event bounds its sales: registration closes when it ends."""

    ends_at: datetime


@dataclass(frozen=True)
class TicketTypeTerms:
    """What of a ticket type decides a registration: its places, its sales window (unset:
    from publication to the end of the event) and whether the organiser approves each one."""

    quota: int
    # Places taken as the counter stood when read.
    confirmed_count: int
    sales_opens_at: datetime | None
    sales_closes_at: datetime | None
    requires_approval: bool


class NotOpenYet(Conflict):
    """Registration for the ticket type opens later (`opens_at`)."""


class SalesClosed(Conflict):
    """Registration for the ticket type has closed."""


def sales_window(ticket_type: TicketTypeTerms, event: EventTerms) -> tuple[datetime, datetime]:
    """When the ticket type sells: its own window, never beyond the end of the event."""
    opens = ticket_type.sales_opens_at or datetime.min.replace(tzinfo=UTC)
    closes = min(ticket_type.sales_closes_at or event.ends_at, event.ends_at)
    return opens, closes


def admit(event: EventTerms, ticket_type: TicketTypeTerms, now: datetime) -> str:
    """The status a registration made `now` gets: pending_approval if the ticket type needs
    the organiser's approval, else confirmed while a place is left, else waitlisted. Outside
    the sales window it is refused (NotOpenYet, SalesClosed)."""
    opens, closes = sales_window(ticket_type, event)
    if now < opens:
        message = N_("Registration for this ticket type has not opened yet.")
        raise NotOpenYet(message, opens_at=opens)
    if now >= closes:
        raise SalesClosed(N_("Registration for this ticket type has closed."))
    if ticket_type.requires_approval:
        return PENDING_APPROVAL
    return CONFIRMED if ticket_type.confirmed_count < ticket_type.quota else WAITLISTED
