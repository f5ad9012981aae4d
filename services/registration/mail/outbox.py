"""Registration's side of the shared mail outbox (shared/mail/outbox.py, where the retry and
erasure rules live): an invitation's mail is queued in the transaction that makes the
invitation, an attendee's status mail in the transaction that changes the status, so each
exists exactly when its change does."""

from services.registration.mail.status_mails import mail_for_change
from services.registration.models import Invitation, PasswordReset, Registration, mail_outbox
from shared.db import Transaction
from shared.mail import outbox

# The kinds of registration's mail; about_id is the row the mail is about.
INVITATION_MAIL = "invitation"  # an Invitation (relay.render_invitation_mail)
PASSWORD_RESET_MAIL = "password_reset"  # noqa: S105 (a kind of mail, not a secret)


def queue_invitation_mail(tx: Transaction, invitation: Invitation) -> str:
    """The invitation's mail owed with this transaction's other changes; the mail's id. It
    belongs to no registration: a team member's address is no attendee's to erase."""
    return outbox.queue_mail(
        tx,
        mail_outbox,
        kind=INVITATION_MAIL,
        about_id=invitation.id,
        recipient=invitation.email,
    )


def queue_password_reset_mail(tx: Transaction, reset: PasswordReset, recipient: str) -> str:
    return outbox.queue_mail(
        tx, mail_outbox, kind=PASSWORD_RESET_MAIL, about_id=reset.id, recipient=recipient
    )


def queue_status_mail(
    tx: Transaction,
    registration: Registration,
    previous_status: str | None,
    reason: str | None = None,
) -> str | None:
    """The mail the registration's change from `previous_status` (None: just made) to its
    status now owes its attendee (status_mails.mail_for_change), owed with this
    transaction's other changes; the mail's id, or None when none is owed. An erased
    registration has no address to write to."""
    kind = mail_for_change(previous_status, registration.status, reason)
    if kind is None or not registration.attendee_email:
        return None
    # About the registration, and belonging to it: an erasure of it finds the mail.
    registration_id = registration.id
    return outbox.queue_mail(
        tx, mail_outbox, kind, registration_id, registration.attendee_email, registration_id
    )


def forget_attendee_mail(tx: Transaction, registration_ids: list[str]) -> None:
    """The attendees' addresses erased from their registrations' mail: what was not sent yet
    never will be, and the copies of what was are to be deleted."""
    outbox.forget_recipients(tx, mail_outbox, registration_ids)
