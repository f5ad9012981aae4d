"""An erasure reaches the attendee's mail (issue #14, "Erasure leaves copies"): the mail
relay deletes their .eml files from the mailbox folder, even one it was writing as the
erasure came, and no mail row keeps their address, a refusal's error included."""

import smtplib
import stat

import pytest

from services.ticketing.mail.relay import MailRelay
from shared.mail import outbox as mail_outbox
from shared.mail.delivery import MailboxFolder
from tests.unit.ticketing_fixtures import BoxOffice

pytest_plugins = ["tests.unit.domain_fixtures", "tests.unit.ticketing_fixtures"]


@pytest.fixture
def mailbox(ticketing_runtime) -> MailboxFolder:
    return MailboxFolder(ticketing_runtime.settings.mailbox_dir)


def files_to(mailbox: MailboxFolder, email: str) -> list:
    return [path for path in mailbox.path.glob("*.eml") if email in path.read_text()]


def mail_of(box_office: BoxOffice, confirmation) -> list:
    ticket_ids = {ticket.id for ticket in box_office.tickets_of(confirmation)}
    return [mail for mail in box_office.mail() if mail.ticket_id in ticket_ids]


def test_the_erased_attendees_mail_files_are_deleted_and_no_one_elses(
    box_office, ticketing_runtime, mailbox
):
    show = box_office.show()
    erased = box_office.confirm(show)
    kept = box_office.confirm(show)
    relay = MailRelay(ticketing_runtime, mailbox)
    relay.send_due()
    box_office.reissue(box_office.ticket_of(erased))
    relay.send_due()
    erased_email = erased.data["attendee"]["email"]
    assert len(files_to(mailbox, erased_email)) == 2

    box_office.erase(erased)
    assert {mail.status for mail in mail_of(box_office, erased)} == {mail_outbox.ERASING}
    assert relay.erase_copies() == 2

    assert files_to(mailbox, erased_email) == []
    assert len(files_to(mailbox, kept.data["attendee"]["email"])) == 1
    assert {(m.recipient, m.status) for m in mail_of(box_office, erased)} == {("", "erased")}
    assert relay.erase_copies() == 0


class ErasedWhileWriting:
    """A mailbox folder whose attendee is erased just as a mail to them is being written."""

    def __init__(self, box_office: BoxOffice, confirmation, folder: MailboxFolder):
        self._box_office, self._confirmation, self._folder = box_office, confirmation, folder

    def send(self, message) -> None:
        self._box_office.erase(self._confirmation)
        self._folder.send(message)

    def forget(self, mail_id: str) -> None:
        self._folder.forget(mail_id)


def test_a_mail_erased_while_it_is_being_written_leaves_no_file(
    box_office, ticketing_runtime, mailbox
):
    confirmation = box_office.confirm(box_office.show())
    relay = MailRelay(ticketing_runtime, ErasedWhileWriting(box_office, confirmation, mailbox))

    relay.send_due()

    assert list(mailbox.path.glob("*.eml")) == []
    assert [(m.recipient, m.status) for m in mail_of(box_office, confirmation)] == [("", "skipped")]


class Refusing:
    """An SMTP server that refuses the recipient for good, naming them in its error."""

    def send(self, message) -> None:
        address = message["To"].addresses[0].addr_spec
        raise smtplib.SMTPRecipientsRefused({address: (550, b"no such user")})

    def forget(self, mail_id: str) -> None:
        pass


def test_a_refusal_naming_the_address_is_forgotten_with_it(box_office, ticketing_runtime):
    confirmation = box_office.confirm(box_office.show())
    email = confirmation.data["attendee"]["email"]
    relay = MailRelay(ticketing_runtime, Refusing())
    relay.send_due()
    (refused,) = mail_of(box_office, confirmation)
    assert refused.status == "failed" and email in refused.last_error

    box_office.erase(confirmation)

    (forgotten,) = mail_of(box_office, confirmation)
    assert (forgotten.recipient, forgotten.last_error, forgotten.status) == ("", None, "failed")


def test_mailbox_files_are_the_owners_only(box_office, ticketing_runtime, mailbox):
    box_office.confirm(box_office.show())

    MailRelay(ticketing_runtime, mailbox).send_due()

    (file,) = mailbox.path.glob("*.eml")
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert stat.S_IMODE(mailbox.path.stat().st_mode) == 0o700
