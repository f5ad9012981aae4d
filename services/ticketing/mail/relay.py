"""Ticketing's mail relay: the shared one (shared/mail/relay.py) with ticketing's mail outbox
and the renderer of its one kind of mail, the ticket mail. It runs as one of the ticketing
worker's periodic tasks (app.PERIODIC_TASKS)."""

from datetime import UTC, datetime
from email.message import EmailMessage
from functools import partial

from sqlalchemy import Row

from services.ticketing import service
from services.ticketing.mail.outbox import TICKET_MAIL
from services.ticketing.mail.ticket_mail import Letterhead, ticket_mail
from services.ticketing.models import Ticket, mail_outbox
from services.ticketing.ticket_secrets import url_key
from shared.db import UnitOfWork
from shared.mail import relay
from shared.mail.delivery import MailboxFolder, SmtpSender
from shared.runtime import ServiceRuntime


def render_ticket_mail(letterhead: Letterhead, uow: UnitOfWork, mail: Row) -> EmailMessage | None:
    """The ticket's mail as the ticket is now; None once it is revoked (a replacement's own
    mail follows) or its attendee erased."""
    with uow:
        ticket = uow.session.get(Ticket, mail.about_id)
        event = service.ticket_event(uow.session, ticket)
        replaces_earlier = service.replaces_earlier_ticket(uow.session, ticket)
    if ticket.status != service.VALID or not ticket.attendee_email:
        return None
    # Rendered, the first time, outside the read above (see shared/mail/relay.py).
    images = service.ticket_images(uow, ticket)
    key = url_key(uow.secret_box, ticket.id)
    return ticket_mail(ticket, key, event, images, replaces_earlier, letterhead, datetime.now(UTC))


class MailRelay(relay.MailRelay):
    def __init__(self, runtime: ServiceRuntime, sender: SmtpSender | MailboxFolder | None = None):
        letterhead = Letterhead(
            sender=runtime.settings.mail_from, public_url=runtime.settings.public_url
        )
        renderers = {TICKET_MAIL: partial(render_ticket_mail, letterhead)}
        super().__init__(runtime, mail_outbox, renderers, sender)


def relay_mail(runtime: ServiceRuntime) -> None:
    """The periodic task."""
    MailRelay(runtime).run_once()
