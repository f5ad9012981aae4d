"""The shared mail outbox and relay as a spec (shared/mail, issue 17), on a service of the
test's own: a real SQLite database with a mail outbox and a table of its own data, two kinds
of mail each rendered by its own renderer, and a real mailbox folder in tmp_path.

Mail is written with the change that causes it, rendered from the service's data as it is
sent, tried again with growing pauses for about a day, sent once, and erased with the
person it was for."""

import smtplib
import threading
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy

import pytest
from sqlalchemy import Boolean, Column, MetaData, String, Table, select, update

from shared.mail import outbox
from shared.mail.delivery import MailboxFolder
from shared.mail.relay import MailRelay
from shared.models import common_tables, new_id
from shared.runtime import ServiceDefinition, ServiceRuntime
from shared.settings import Settings

NOW = datetime(2030, 5, 20, 9, 0, tzinfo=UTC)

metadata = MetaData()
tables = common_tables(metadata)
mail_outbox = outbox.define_mail_outbox_table(metadata)
# The test service's own data, which its renderers read as each mail is sent.
guests = Table(
    "guests",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("registration_id", String(36)),
    Column("name", String(200)),
    Column("email", String(320)),
    Column("withdrawn", Boolean, default=False),
)


def welcome_mail(uow, mail) -> EmailMessage | None:
    with uow:
        guest = uow.session.execute(select(guests).where(guests.c.id == mail.about_id)).one()
    if guest.withdrawn:
        return None
    return message(guest.email, f"Welcome, {guest.name}")


def reminder_mail(uow, mail) -> EmailMessage | None:
    with uow:
        guest = uow.session.execute(select(guests).where(guests.c.id == mail.about_id)).one()
    return message(guest.email, f"Tomorrow at six, {guest.name}")


RENDERERS = {"welcome": welcome_mail, "reminder": reminder_mail}


def message(to: str, subject: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "Mailroom <mail@mailroom.example>"
    mail["To"] = to
    mail["Subject"] = subject
    mail.set_content(subject)
    return mail


@pytest.fixture
def runtime(tmp_path):
    definition = ServiceDefinition(
        name="mailroom", metadata=metadata, tables=tables, migrations_dir=tmp_path
    )
    settings = Settings.from_env(
        {"LOOPGATE_DATA_DIR": str(tmp_path), "LOOPGATE_MAIL_FROM": "mail@mailroom.example"}
    )
    runtime = ServiceRuntime(definition, settings)
    metadata.create_all(runtime.engine)
    yield runtime
    runtime.dispose()


@pytest.fixture
def mailbox(tmp_path) -> MailboxFolder:
    return MailboxFolder(tmp_path / "mailbox")


def relay(runtime, sender, renderers=RENDERERS) -> MailRelay:
    return MailRelay(runtime, mail_outbox, renderers, sender)


def guest(runtime, name: str = "Ada Lovelace", registration_id: str | None = None) -> dict:
    row = {
        "id": new_id(),
        "registration_id": registration_id or new_id(),
        "name": name,
        "email": f"{name.split()[0].lower()}@example.com",
        "withdrawn": False,
    }
    with runtime.session_factory() as session:
        session.execute(guests.insert().values(row))
        session.commit()
    return row


def queued(runtime, about: dict, kind: str = "welcome") -> str:
    """A mail about a guest, queued and committed as a service's change would queue it."""
    uow = runtime.unit_of_work()
    with uow:
        mail_id = outbox.queue_mail(
            uow.transaction,
            mail_outbox,
            kind=kind,
            about_id=about["id"],
            recipient=about["email"],
            registration_id=about["registration_id"],
        )
        uow.commit()
    return mail_id


def mail_row(runtime, mail_id: str):
    with runtime.session_factory() as session:
        return session.execute(select(mail_outbox).where(mail_outbox.c.id == mail_id)).one()


def read(mailbox: MailboxFolder, mail_id: str) -> EmailMessage:
    return BytesParser(policy=default_policy).parsebytes(mailbox.raw(mail_id))


# --- written with the change that causes it -------------------------------------------------


def test_a_mail_queued_in_a_transaction_that_rolls_back_is_never_sent(runtime, mailbox):
    ada = guest(runtime)
    uow = runtime.unit_of_work()
    with uow:
        outbox.queue_mail(uow.transaction, mail_outbox, "welcome", ada["id"], ada["email"])
        # No commit: leaving the unit of work rolls back, as a failing change would.

    assert relay(runtime, mailbox).send_due(NOW) == 0
    assert list(mailbox.path.glob("*.eml")) == []
    with runtime.session_factory() as session:
        assert session.execute(select(mail_outbox)).all() == []


def test_a_mail_is_rendered_from_the_services_data_when_it_is_sent(runtime, mailbox):
    ada = guest(runtime)
    mail_id = queued(runtime, ada)
    with runtime.session_factory() as session:
        session.execute(update(guests).values(name="Ada King"))
        session.commit()

    assert relay(runtime, mailbox).send_due(NOW) == 1

    sent = read(mailbox, mail_id)
    assert sent["Subject"] == "Welcome, Ada King"
    assert sent["Message-ID"] == f"<{mail_id}@mailroom.example>"
    assert sent["Date"].datetime == NOW
    row = mail_row(runtime, mail_id)
    assert (row.status, row.attempts, row.sent_at) == (outbox.SENT, 1, NOW)


def test_each_kind_of_mail_is_rendered_by_its_own_renderer(runtime, mailbox):
    ada = guest(runtime)
    welcome, reminder = queued(runtime, ada, "welcome"), queued(runtime, ada, "reminder")

    assert relay(runtime, mailbox).send_due(NOW) == 2

    assert read(mailbox, welcome)["Subject"] == "Welcome, Ada Lovelace"
    assert read(mailbox, reminder)["Subject"] == "Tomorrow at six, Ada Lovelace"


def test_a_mail_of_a_kind_without_a_renderer_waits_for_one(runtime, mailbox):
    mail_id = queued(runtime, guest(runtime), "reminder")

    relay(runtime, mailbox, {"welcome": welcome_mail}).send_due(NOW)

    row = mail_row(runtime, mail_id)
    assert (row.status, row.attempts) == (outbox.PENDING, 1)
    assert "no renderer for 'reminder' mail" in row.last_error
    relay(runtime, mailbox).send_due(NOW + outbox.FIRST_RETRY)  # a worker that knows it
    assert mail_row(runtime, mail_id).status == outbox.SENT


def test_a_mail_its_renderer_finds_nothing_to_send_for_is_skipped(runtime, mailbox):
    ada = guest(runtime)
    mail_id = queued(runtime, ada)
    with runtime.session_factory() as session:
        session.execute(update(guests).values(withdrawn=True))
        session.commit()

    relay(runtime, mailbox).send_due(NOW)

    assert mail_row(runtime, mail_id).status == outbox.SKIPPED
    assert list(mailbox.path.glob("*.eml")) == []


# --- claimed by one relay, sent once ----------------------------------------------------------


class Recording:
    """A sender that notes the mail ids it sent, then writes them to the mailbox."""

    def __init__(self, folder: MailboxFolder):
        self.folder, self.sent = folder, []
        self._lock = threading.Lock()

    def send(self, message: EmailMessage) -> None:
        with self._lock:
            self.sent.append(message["Message-ID"])
        self.folder.send(message)

    def forget(self, mail_id: str) -> None:
        self.folder.forget(mail_id)


def test_a_due_mail_is_claimed_by_one_relay_only(runtime, mailbox):
    mail_id = queued(runtime, guest(runtime))

    claimed = outbox.claim_next(runtime.unit_of_work(), mail_outbox, NOW)
    assert claimed.id == mail_id
    assert outbox.claim_next(runtime.unit_of_work(), mail_outbox, NOW) is None

    # Two relays (two worker processes) working through the same due mail at once.
    ids = [queued(runtime, guest(runtime, f"Guest {n}")) for n in range(20)]
    sender = Recording(mailbox)
    relays = [relay(runtime, sender), relay(runtime, sender)]
    threads = [threading.Thread(target=each.send_due, args=(NOW,)) for each in relays]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(sender.sent) == sorted(f"<{each}@mailroom.example>" for each in ids)


class Failing:
    """A mail server that is down for the first `failures` attempts, then takes mail."""

    def __init__(self, folder: MailboxFolder, failures: int):
        self.folder, self.failures = folder, failures

    def send(self, message: EmailMessage) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionRefusedError(111, "Connection refused")
        self.folder.send(message)

    def forget(self, mail_id: str) -> None:
        self.folder.forget(mail_id)


def test_a_failure_then_a_success_sends_the_mail_once(runtime, mailbox):
    mail_id = queued(runtime, guest(runtime))
    sender = Recording(Failing(mailbox, failures=1))
    mail_relay = relay(runtime, sender)

    assert mail_relay.send_due(NOW) == 1
    waiting = mail_row(runtime, mail_id)
    assert (waiting.status, waiting.attempts) == (outbox.PENDING, 1)
    assert waiting.next_attempt_at == NOW + outbox.FIRST_RETRY
    assert "ConnectionRefusedError" in waiting.last_error
    assert mail_relay.send_due(NOW + timedelta(seconds=10)) == 0  # not due again yet

    assert mail_relay.send_due(NOW + outbox.FIRST_RETRY) == 1
    assert mail_relay.send_due(NOW + timedelta(days=2)) == 0

    sent = mail_row(runtime, mail_id)
    assert (sent.status, sent.attempts, sent.last_error) == (outbox.SENT, 2, None)
    assert len(sender.sent) == 2  # the refused attempt, and the one that went
    assert [path.stem for path in mailbox.path.glob("*.eml")] == [mail_id]


def test_retries_double_up_to_an_hour_and_give_up_after_about_a_day(runtime, mailbox):
    mail_id = queued(runtime, guest(runtime))
    mail_relay = relay(runtime, Failing(mailbox, failures=10**6))
    moment, pauses = NOW, []

    for attempt in range(1, outbox.MAX_ATTEMPTS + 1):
        assert mail_relay.send_due(moment) == 1
        row = mail_row(runtime, mail_id)
        pauses.append(row.next_attempt_at - moment)
        moment = row.next_attempt_at
        assert row.status == (outbox.FAILED if attempt == outbox.MAX_ATTEMPTS else outbox.PENDING)

    assert pauses[:4] == [timedelta(seconds=s) for s in (30, 60, 120, 240)]
    assert max(pauses) == timedelta(hours=1) == pauses[-1]
    assert timedelta(hours=20) < sum(pauses[:-1], timedelta()) < timedelta(hours=30)
    assert mail_relay.send_due(moment + timedelta(days=30)) == 0
    assert list(mailbox.path.glob("*.eml")) == []


def test_the_first_pause_comes_from_loopgate_mail_first_retry_seconds(runtime, mailbox):
    runtime.settings = Settings.from_env(
        {"LOOPGATE_DATA_DIR": str(mailbox.path.parent), "LOOPGATE_MAIL_FIRST_RETRY_SECONDS": "2"}
    )
    mail_id = queued(runtime, guest(runtime))

    relay(runtime, Failing(mailbox, failures=1)).send_due(NOW)

    assert mail_row(runtime, mail_id).next_attempt_at == NOW + timedelta(seconds=2)


class Refusing:
    """An SMTP server that refuses the recipient for good, naming them in its error."""

    def send(self, message: EmailMessage) -> None:
        raise smtplib.SMTPRecipientsRefused({message["To"]: (550, b"5.1.1 no such user")})

    def forget(self, mail_id: str) -> None:
        pass


def test_a_permanent_refusal_fails_the_mail_at_once(runtime):
    mail_id = queued(runtime, guest(runtime))

    relay(runtime, Refusing()).send_due(NOW)

    refused = mail_row(runtime, mail_id)
    assert (refused.status, refused.attempts) == (outbox.FAILED, 1)
    assert "550" in refused.last_error


# --- erasure ------------------------------------------------------------------------------


def erase(runtime, *registration_ids: str) -> None:
    uow = runtime.unit_of_work()
    with uow:
        outbox.forget_recipients(uow.transaction, mail_outbox, list(registration_ids))
        uow.commit()


def test_erasure_skips_pending_mail_and_deletes_the_copies_of_sent_mail(runtime, mailbox):
    ada, grace = guest(runtime, "Ada Lovelace"), guest(runtime, "Grace Hopper")
    sent, kept = queued(runtime, ada), queued(runtime, grace)
    mail_relay = relay(runtime, mailbox)
    mail_relay.send_due(NOW)
    pending = queued(runtime, ada, "reminder")

    erase(runtime, ada["registration_id"])

    assert mail_row(runtime, sent).status == outbox.ERASING
    assert mail_row(runtime, pending).status == outbox.SKIPPED
    assert {mail_row(runtime, each).recipient for each in (sent, pending)} == {""}
    assert mail_relay.send_due(NOW + timedelta(hours=1)) == 0  # the skipped one never goes

    assert mail_relay.erase_copies() == 1

    assert mail_row(runtime, sent).status == outbox.ERASED
    assert mailbox.raw(sent) is None
    assert mailbox.raw(kept) is not None
    assert mail_row(runtime, kept).status == outbox.SENT
    assert mail_relay.erase_copies() == 0


def test_erasure_reaches_mail_queued_earlier_in_the_same_transaction(runtime, mailbox):
    ada = guest(runtime)
    uow = runtime.unit_of_work()
    with uow:
        mail_id = outbox.queue_mail(
            uow.transaction, mail_outbox, "welcome", ada["id"], ada["email"], ada["registration_id"]
        )
        outbox.forget_recipients(uow.transaction, mail_outbox, [ada["registration_id"]])
        uow.commit()

    assert (mail_row(runtime, mail_id).status, mail_row(runtime, mail_id).recipient) == (
        outbox.SKIPPED,
        "",
    )


class ErasedWhileWriting:
    """A mailbox folder whose guest is erased just as the mail to them is being written."""

    def __init__(self, runtime, registration_id: str, folder: MailboxFolder):
        self.runtime, self.registration_id, self.folder = runtime, registration_id, folder

    def send(self, message: EmailMessage) -> None:
        erase(self.runtime, self.registration_id)
        self.folder.send(message)

    def forget(self, mail_id: str) -> None:
        self.folder.forget(mail_id)


def test_a_mail_erased_while_it_is_being_written_leaves_no_copy(runtime, mailbox):
    ada = guest(runtime)
    mail_id = queued(runtime, ada)

    relay(runtime, ErasedWhileWriting(runtime, ada["registration_id"], mailbox)).send_due(NOW)

    assert list(mailbox.path.glob("*.eml")) == []
    assert mail_row(runtime, mail_id).status == outbox.SKIPPED
