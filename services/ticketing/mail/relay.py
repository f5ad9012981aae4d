"""The mail relay: sends what the mail outbox owes, in the ticketing worker.

It runs as one of the worker's periodic tasks (app.PERIODIC_TASKS). Each round makes one
attempt at every mail that is due, claiming each just before sending it; a failed one waits
for its retry time (see outbox). Then it deletes the copies kept of erased mail.
"""

import logging
from datetime import UTC, datetime, timedelta

from services.ticketing import service
from services.ticketing.mail import outbox
from services.ticketing.mail.ticket_mail import Letterhead, ticket_mail
from services.ticketing.models import OutgoingMail, Ticket
from services.ticketing.ticket_secrets import url_key
from shared.mail.delivery import (
    MailboxFolder,
    SmtpSender,
    mail_sender,
    refused_for_good,
)
from shared.runtime import ServiceRuntime

log = logging.getLogger(__name__)


class MailRelay:
    def __init__(self, runtime: ServiceRuntime, sender: SmtpSender | MailboxFolder | None = None):
        self._runtime = runtime
        self._sender = sender or mail_sender(runtime.settings)
        self._first_retry = timedelta(seconds=runtime.settings.mail_first_retry_seconds)
        self._letterhead = Letterhead(
            sender=runtime.settings.mail_from, public_url=runtime.settings.public_url
        )

    def send_due(self, now: datetime | None = None) -> int:
        """One attempt at every mail due at `now` (default: as it goes); returns how many."""
        attempted = 0
        while mail_id := outbox.claim_next(
            self._runtime.unit_of_work(), now or datetime.now(UTC), self._first_retry
        ):
            self._attempt(mail_id, now or datetime.now(UTC))
            attempted += 1
        return attempted

    def _attempt(self, mail_id: str, now: datetime) -> None:
        with self._runtime.session_factory() as session:
            mail = session.get(OutgoingMail, mail_id)
            ticket = session.get(Ticket, mail.ticket_id)
            event = service.ticket_event(session, ticket)
            replaces_earlier = service.replaces_earlier_ticket(session, ticket)
        if ticket.status != service.VALID or not ticket.attendee_email:
            outbox.mark_skipped(self._runtime.unit_of_work(), mail_id)
            return
        try:
            images = service.ticket_images(self._runtime.unit_of_work(), ticket)
            message = ticket_mail(
                mail_id,
                ticket,
                url_key(self._runtime.secret_box, ticket.id),
                event,
                images,
                replaces_earlier,
                self._letterhead,
                now,
            )
            self._sender.send(message)
        except Exception as error:  # whatever it was, recorded and retried within bounds
            status = outbox.record_failure(
                self._runtime.unit_of_work(),
                mail_id,
                f"{type(error).__name__}: {error}",
                permanent=refused_for_good(error),
            )
            log.log(
                logging.ERROR if status == outbox.FAILED else logging.WARNING,
                "mail %s for ticket %s: %s (%s)",
                mail_id,
                ticket.id,
                error,
                "given up" if status == outbox.FAILED else "will retry",
            )
            return
        if not outbox.mark_sent(self._runtime.unit_of_work(), mail_id, now):
            # Erased while it was being sent: the copy just written goes too.
            self._sender.forget(mail_id)

    def erase_copies(self) -> int:
        """Delete what was kept of erased mail (see outbox); returns how many."""
        erased = outbox.erasing(self._runtime.unit_of_work())
        for mail_id in erased:
            self._sender.forget(mail_id)
            outbox.mark_erased(self._runtime.unit_of_work(), mail_id)
        return len(erased)


def relay_mail(runtime: ServiceRuntime) -> None:
    """The periodic task."""
    relay = MailRelay(runtime)
    relay.send_due()
    relay.erase_copies()
