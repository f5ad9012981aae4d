"""The mail relay: sends what a service's mail outbox owes, in the service's worker.

It runs as one of the worker's periodic tasks (the service lists it in its definition's
periodic_tasks). Each round makes one attempt at every mail that is due, claiming each just
before sending it; a failed one waits for its retry time (see outbox). Then it deletes the
copies kept of erased mail.

The relay knows no service. It is handed the service's mail outbox table and its renderers:
for each kind of mail, a function (unit of work, mail row) -> EmailMessage | None that makes
the message from the service's own data as it is now, or None when there is nothing to send
any more (the ticket was revoked meanwhile): the mail is then skipped. A renderer gets a unit
of work not yet begun rather than an open session because on SQLite an open transaction
holds the database's write lock: it reads what it needs in a short `with uow:` and does slow
work (a QR code) outside it. The relay stamps every message with the Message-ID of its row
and the date of the attempt, so every attempt at one row is the same message and an erasure
finds its copy by the row's id.
"""

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

from sqlalchemy import Row, Table

from shared.db import UnitOfWork
from shared.mail import outbox
from shared.mail.delivery import (
    MailboxFolder,
    SmtpSender,
    mail_sender,
    message_id,
    refused_for_good,
)
from shared.runtime import ServiceRuntime

log = logging.getLogger(__name__)

Renderer = Callable[[UnitOfWork, Row], EmailMessage | None]


class UnknownKind(LookupError):
    """A mail of a kind this service has no renderer for: retried like any failure, since a
    newer version of the worker (a deploy under way) may know it."""


class MailRelay:
    def __init__(
        self,
        runtime: ServiceRuntime,
        table: Table,
        renderers: Mapping[str, Renderer],
        sender: SmtpSender | MailboxFolder | None = None,
    ):
        self._runtime = runtime
        self._table = table
        self._renderers = renderers
        self._sender = sender or mail_sender(runtime.settings)
        self._first_retry = timedelta(seconds=runtime.settings.mail_first_retry_seconds)
        self._mail_from = runtime.settings.mail_from

    def run_once(self) -> None:
        """One round of the periodic task: every due mail tried, erased mail's copies gone."""
        self.send_due()
        self.erase_copies()

    def send_due(self, now: datetime | None = None) -> int:
        """One attempt at every mail due at `now` (default: as it goes); returns how many."""
        attempted = 0
        while mail := outbox.claim_next(
            self._runtime.unit_of_work(), self._table, now or datetime.now(UTC), self._first_retry
        ):
            self._attempt(mail, now or datetime.now(UTC))
            attempted += 1
        return attempted

    def _attempt(self, mail: Row, now: datetime) -> None:
        try:
            message = self._render(mail)
            if message is None:
                outbox.mark_skipped(self._runtime.unit_of_work(), self._table, mail.id)
                return
            del message["Message-ID"], message["Date"]
            message["Message-ID"] = message_id(mail.id, self._mail_from)
            message["Date"] = format_datetime(now)
            self._sender.send(message)
        except Exception as error:  # whatever it was, recorded and retried within bounds
            status = outbox.record_failure(
                self._runtime.unit_of_work(),
                self._table,
                mail.id,
                f"{type(error).__name__}: {error}",
                permanent=refused_for_good(error),
            )
            log.log(
                logging.ERROR if status == outbox.FAILED else logging.WARNING,
                "%s mail %s about %s: %s (%s)",
                mail.kind,
                mail.id,
                mail.about_id,
                error,
                "given up" if status == outbox.FAILED else "will retry",
            )
            return
        if not outbox.mark_sent(self._runtime.unit_of_work(), self._table, mail.id, now):
            # Erased while it was being sent: the copy just written goes too.
            self._sender.forget(mail.id)

    def _render(self, mail: Row) -> EmailMessage | None:
        renderer = self._renderers.get(mail.kind)
        if renderer is None:
            raise UnknownKind(f"no renderer for {mail.kind!r} mail")
        return renderer(self._runtime.unit_of_work(), mail)

    def erase_copies(self) -> int:
        """Delete what was kept of erased mail (see outbox); returns how many."""
        erased = outbox.erasing(self._runtime.unit_of_work(), self._table)
        for mail_id in erased:
            self._sender.forget(mail_id)
            outbox.mark_erased(self._runtime.unit_of_work(), self._table, mail_id)
        return len(erased)
