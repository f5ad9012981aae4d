"""Registration's mail relay: the shared one (shared/mail/relay.py) with registration's mail
outbox and the renderers of its mails: invitations, password resets and the attendees'
status mails. It runs as one of the registration worker's periodic tasks
(app.PERIODIC_TASKS)."""

from datetime import UTC, datetime
from email.message import EmailMessage
from functools import partial

from sqlalchemy import Row

from services.registration.account_links import INVITATION, PASSWORD_RESET, link_token
from services.registration.mail import status_mails
from services.registration.mail.attendee_mail import AttendeeLetter, attendee_mail
from services.registration.mail.invitation_mail import invitation_mail
from services.registration.mail.link_mail import Letterhead
from services.registration.mail.manage_links import manage_url
from services.registration.mail.outbox import INVITATION_MAIL, PASSWORD_RESET_MAIL
from services.registration.mail.password_reset_mail import password_reset_mail
from services.registration.models import (
    Event,
    Invitation,
    Organisation,
    PasswordReset,
    Person,
    Registration,
    TicketType,
    mail_outbox,
)
from services.registration.registrations import waitlist_position
from services.registration.wording import localised
from shared.db import UnitOfWork
from shared.mail import relay
from shared.mail.delivery import MailboxFolder, SmtpSender
from shared.runtime import ServiceRuntime


def render_invitation_mail(
    letterhead: Letterhead, uow: UnitOfWork, mail: Row
) -> EmailMessage | None:
    """The invitation's mail as the invitation is now; None once it can no longer be
    accepted (accepted, withdrawn, expired, or gone): its link would only say so."""
    with uow:
        invitation = uow.session.get(Invitation, mail.about_id)
        if not open_invitation(invitation, datetime.now(UTC)):
            return None
        organisation = uow.session.get(Organisation, invitation.organisation_id)
    # The link made again from the row's id: nothing stored opens it (account_links).
    token = link_token(uow.secret_box, INVITATION, invitation.id)
    return invitation_mail(invitation, organisation.name, token, letterhead)


def open_invitation(invitation: Invitation | None, now: datetime) -> bool:
    return (
        invitation is not None
        and invitation.accepted_at is None
        and invitation.withdrawn_at is None
        and invitation.expires_at > now
    )


def render_password_reset_mail(
    letterhead: Letterhead, uow: UnitOfWork, mail: Row
) -> EmailMessage | None:
    """The reset's mail while its link may still be used; None once used or expired."""
    with uow:
        reset = uow.session.get(PasswordReset, mail.about_id)
        if reset is None or reset.used_at is not None or reset.expires_at <= datetime.now(UTC):
            return None
        person = uow.session.get(Person, reset.person_id)
    token = link_token(uow.secret_box, PASSWORD_RESET, reset.id)
    return password_reset_mail(reset, person.email, token, letterhead)


def render_attendee_mail(letterhead: Letterhead, uow: UnitOfWork, mail: Row) -> EmailMessage | None:
    """A status mail as the registration is now; None once its news is out of date (a newer
    change queued its own mail: status_mails.still_true) or the registration is erased."""
    with uow:
        registration = uow.session.get(Registration, mail.about_id)
        if (
            registration is None
            or registration.erased_at is not None
            or not status_mails.still_true(
                mail.kind, registration.status, registration.offer_expires_at, datetime.now(UTC)
            )
        ):
            return None
        event = uow.session.get(Event, registration.event_id)
        ticket_type = uow.session.get(TicketType, registration.ticket_type_id)
        locale = registration.language
        letter = AttendeeLetter(
            recipient=mail.recipient,
            language=locale,
            event_title=localised(event.title, event.translations, locale, "title"),
            event_starts_at=event.starts_at,
            event_timezone=event.timezone,
            venue=localised(event.venue, event.translations, locale, "venue"),
            ticket_type_name=localised(ticket_type.name, ticket_type.translations, locale, "name"),
            manage_url=manage_url(
                uow.secret_box,
                letterhead.public_url,
                registration.id,
                registration.sealed_manage_token,
                locale,
            ),
            waitlist_position=waitlist_position(uow.session, registration),
            offer_expires_at=registration.offer_expires_at,
            waitlist_claim_minutes=event.waitlist_claim_minutes,
            rejection_reason=registration.rejection_reason,
        )
    return attendee_mail(mail.kind, letter, letterhead)


class MailRelay(relay.MailRelay):
    def __init__(self, runtime: ServiceRuntime, sender: SmtpSender | MailboxFolder | None = None):
        letterhead = Letterhead(
            sender=runtime.settings.mail_from, public_url=runtime.settings.public_url
        )
        renderers = {
            INVITATION_MAIL: partial(render_invitation_mail, letterhead),
            PASSWORD_RESET_MAIL: partial(render_password_reset_mail, letterhead),
            **dict.fromkeys(status_mails.KINDS, partial(render_attendee_mail, letterhead)),
        }
        super().__init__(runtime, mail_outbox, renderers, sender)


def relay_mail(runtime: ServiceRuntime) -> None:
    """The periodic task."""
    MailRelay(runtime).run_once()
