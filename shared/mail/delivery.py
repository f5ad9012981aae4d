"""Where finished mail goes: an SMTP server (LOOPGATE_SMTP_URL), or else the mailbox folder
in the data dir, one .eml file a mail, which any mail client opens. Every service's mail
relay sends through one of these (relay.py); in embedded mode they share the one folder."""

import os
import smtplib
import ssl
import uuid
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parseaddr
from pathlib import Path

from shared.settings import Settings, SmtpServer

# Each network operation of a send (connect, each SMTP command) gives up after this long.
SMTP_TIMEOUT_SECONDS = 10


class SmtpSender:
    def __init__(self, server: SmtpServer):
        self._server = server

    def send(self, message: EmailMessage) -> None:
        server = self._server
        with smtplib.SMTP(server.host, server.port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
            if server.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if server.username:
                smtp.login(server.username, server.password or "")
            smtp.send_message(message)

    def forget(self, mail_id: str) -> None:
        """Nothing to delete: what the server took is no longer ours."""


def refused_for_good(error: Exception) -> bool:
    """The server refused this very message with a permanent (5xx) reply: its recipient or
    its content. Anything else (no connection, a timeout, a 4xx, a login refused) may pass,
    so the mail is tried again."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in error.recipients.values())
    return isinstance(error, smtplib.SMTPDataError) and error.smtp_code >= 500


@dataclass(frozen=True)
class MailboxEntry:
    id: str
    date: datetime | None
    to: str
    subject: str


class MailboxFolder:
    """Mail written as .eml files named after the message's id: writing a mail again (a
    retried attempt) replaces its file instead of adding another. The folder and its files
    are the owner's only (0700, 0600): a mail holds a secret link (a ticket page's key, an
    invitation)."""

    def __init__(self, path: Path):
        self.path = path

    def send(self, message: EmailMessage) -> None:
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        target = self._file(_message_key(message))
        partial = target.with_suffix(".eml.partial")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(message.as_bytes(policy=policy.SMTP))
        os.replace(partial, target)  # a reader never sees half a mail

    def forget(self, mail_id: str) -> None:
        """The mail's file deleted (an erasure)."""
        self._file(mail_id).unlink(missing_ok=True)

    def entries(self, limit: int) -> list[MailboxEntry]:
        """The newest `limit` mails, newest first."""
        files = sorted(self.path.glob("*.eml"), key=lambda file: file.stat().st_mtime)
        entries = []
        for file in reversed(files[-limit:]):
            headers = _headers(file)
            entries.append(
                MailboxEntry(
                    id=file.stem,
                    date=headers["Date"].datetime if headers["Date"] else None,
                    to=str(headers["To"] or ""),
                    subject=str(headers["Subject"] or ""),
                )
            )
        return entries

    def raw(self, mail_id: uuid.UUID) -> bytes | None:
        file = self._file(mail_id)
        return file.read_bytes() if file.is_file() else None

    def _file(self, mail_id: uuid.UUID | str) -> Path:
        return self.path / f"{mail_id}.eml"


def mail_sender(settings: Settings) -> SmtpSender | MailboxFolder:
    server = settings.smtp_server
    return SmtpSender(server) if server else MailboxFolder(settings.mailbox_dir)


def message_id(mail_id: str, sender: str) -> str:
    """The Message-ID of every attempt at one mail outbox row: the row's id at the sender's
    domain. The mailbox folder names its file after it, so an erasure finds the file by the
    row's id, and a mail client recognises a repeated attempt as the same message."""
    domain = parseaddr(sender)[1].rpartition("@")[2]
    return f"<{mail_id}@{domain}>"


def _message_key(message: EmailMessage) -> uuid.UUID:
    """The uuid in the message's Message-ID (see message_id)."""
    return uuid.UUID(message["Message-ID"].strip("<>").split("@")[0])


def _headers(file: Path) -> EmailMessage:
    with file.open("rb") as stream:
        return BytesParser(policy=policy.default).parse(stream, headersonly=True)
