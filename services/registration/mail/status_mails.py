"""Which mail a change of a registration's status owes its attendee, and whether that mail
still tells the truth when the relay comes to send it. Plain rules, no database.

A mail is queued (outbox.queue_status_mail) in the transaction of the change, named by its
kind; the registration is read again as the mail is sent (relay.py). A mail whose news is
already out of date by then (a waitlist place mailed after the attendee has claimed an
offer, an offer after it lapsed) is skipped: the newer change has queued its own mail, which
says what is true now.

A registration that takes a place at once owes no mail of registration's: ticketing mails the
ticket (registration.confirmed on the bus).
"""

from datetime import datetime

from services.registration.models import (
    CANCELLED,
    CONFIRMED,
    OFFER_EXPIRED,
    OFFERED,
    PENDING_APPROVAL,
    REJECTED,
    WAITLISTED,
)

# The kinds of the attendees' status mails (mail_outbox.kind; about_id is the registration).
RECEIVED = "registration_received"  # waiting for the organiser's approval
APPROVED = "registration_approved"
REJECTED_MAIL = "registration_rejected"
WAITLISTED_MAIL = "registration_waitlisted"
PLACE_OFFERED = "place_offered"
OFFER_LAPSED = "offer_expired"
PLACE_CLAIMED = "place_claimed"
# A place came free and, the event setting no claim deadline, was given at once.
PLACE_GIVEN = "place_from_waitlist"
CANCELLED_BY_ATTENDEE = "cancelled_by_attendee"
CANCELLED_BY_ORGANISER = "cancelled_by_organiser"
EVENT_CANCELLED = "event_cancelled"

# Who ended a cancelled registration (places.leave's reason), by the mail that says so.
_CANCELLATIONS = {
    "cancelled_by_attendee": CANCELLED_BY_ATTENDEE,
    "cancelled_by_organiser": CANCELLED_BY_ORGANISER,
    "event_cancelled": EVENT_CANCELLED,
}

# (status before, status after) -> the mail; None before: a registration just made.
_CHANGES = {
    (None, PENDING_APPROVAL): RECEIVED,
    (None, WAITLISTED): WAITLISTED_MAIL,
    (PENDING_APPROVAL, CONFIRMED): APPROVED,
    # Approved while the ticket type is full: on the waitlist like any other.
    (PENDING_APPROVAL, WAITLISTED): WAITLISTED_MAIL,
    (PENDING_APPROVAL, REJECTED): REJECTED_MAIL,
    (WAITLISTED, OFFERED): PLACE_OFFERED,
    (WAITLISTED, CONFIRMED): PLACE_GIVEN,
    (OFFERED, CONFIRMED): PLACE_CLAIMED,
    (OFFERED, OFFER_EXPIRED): OFFER_LAPSED,
}

# The status each mail describes: sent only while the registration still has it.
DESCRIBES = {
    RECEIVED: PENDING_APPROVAL,
    APPROVED: CONFIRMED,
    REJECTED_MAIL: REJECTED,
    WAITLISTED_MAIL: WAITLISTED,
    PLACE_OFFERED: OFFERED,
    OFFER_LAPSED: OFFER_EXPIRED,
    PLACE_CLAIMED: CONFIRMED,
    PLACE_GIVEN: CONFIRMED,
    CANCELLED_BY_ATTENDEE: CANCELLED,
    CANCELLED_BY_ORGANISER: CANCELLED,
    EVENT_CANCELLED: CANCELLED,
}
KINDS = tuple(DESCRIBES)


def mail_for_change(previous: str | None, status: str, reason: str | None = None) -> str | None:
    """The kind of mail a registration's change from `previous` to `status` owes its
    attendee (`reason`: why a cancelled one ended, as places.leave has it); None for none."""
    if status == CANCELLED:
        return _CANCELLATIONS.get(reason)
    return _CHANGES.get((previous, status))


def still_true(kind: str, status: str, offer_expires_at: datetime | None, now: datetime) -> bool:
    """Whether a mail of `kind` still describes a registration with this status and offer
    deadline at `now`."""
    if DESCRIBES.get(kind) != status:
        return False
    return kind != PLACE_OFFERED or (offer_expires_at is not None and offer_expires_at > now)
