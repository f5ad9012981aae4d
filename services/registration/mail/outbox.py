"""Registration's side of the shared mail outbox (shared/mail/outbox.py, where the retry
rules live): an invitation's mail is queued in the transaction that makes the invitation, so
it exists exactly when the invitation does."""

from services.registration.models import Invitation, PasswordReset, mail_outbox
from shared.db import Transaction
from shared.mail import outbox

# The kinds of registration's mail; about_id is the row the mail is about.
INVITATION_MAIL = "invitation"  # an Invitation (relay.render_invitation_mail)
# Reserved: no renderer yet, so none is queued.
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
