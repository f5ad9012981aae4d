"""The ticket mail (issue #6), sent by the real mail relay to a real SMTP server that the test
starts (aiosmtpd): its parts, the inline QR code read back by zxing-cpp, the .ics file, the
attendee's language; and a mail server that is down, refuses, or never comes back."""

import io
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest
import zxingcpp
from PIL import Image

from services.system import definition
from services.ticketing.calendar_file import CalendarEvent, calendar_file
from services.ticketing.mail import outbox as mail_outbox
from services.ticketing.mail.relay import MailRelay
from services.ticketing.ticket_secrets import url_key
from shared.runtime import ServiceRuntime
from shared.settings import Settings
from tests.support import Inbox, free_ports, smtp_server
from tests.unit.ticketing_fixtures import SHOW_ENDS, SHOW_STARTS, BoxOffice

pytest_plugins = ["tests.unit.domain_fixtures", "tests.unit.ticketing_fixtures"]

PUBLIC_URL = "https://tickets.example.org"
NOW = datetime(2030, 5, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def smtp_port() -> int:
    """A free port, with no server on it until a test starts one."""
    return free_ports(1)[0]


@pytest.fixture
def mail_runtime(tmp_path, smtp_port):
    settings = Settings.from_env(
        {
            "LOOPGATE_DATA_DIR": str(tmp_path),
            "LOOPGATE_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
            "LOOPGATE_PUBLIC_URL": PUBLIC_URL,
            "LOOPGATE_MAIL_FROM": "Harbour Lights <tickets@example.org>",
        }
    )
    runtime = ServiceRuntime(definition("ticketing"), settings)
    runtime.prepare()
    yield runtime
    runtime.dispose()


@pytest.fixture
def office(mail_runtime) -> BoxOffice:
    return BoxOffice(mail_runtime)


def parts(message: EmailMessage) -> dict[str, EmailMessage]:
    """The parts of a ticket mail by role, checking its structure on the way."""
    assert message.get_content_type() == "multipart/mixed"
    alternative, calendar = message.get_payload()
    assert alternative.get_content_type() == "multipart/alternative"
    plain, related = alternative.get_payload()
    assert related.get_content_type() == "multipart/related"
    html, image = related.get_payload()
    assert (plain.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    assert image.get_content_type() == "image/png"
    assert calendar.get_content_type() == "text/calendar"
    return {"plain": plain, "html": html, "image": image, "calendar": calendar}


def calendar_lines(ics: bytes) -> list[str]:
    """Unfolded iCalendar lines (RFC 5545 3.1), each checked for CRLF and its 75 octets."""
    lines = ics.split(b"\r\n")
    assert lines[-1] == b"", "the file ends with CRLF"
    assert all(len(line) <= 75 for line in lines), "a line is longer than 75 octets"
    for line in lines:
        line.decode()  # UnicodeDecodeError if a fold split a character
    return b"\r\n".join(lines[:-1]).replace(b"\r\n ", b"").decode().split("\r\n")


def calendar_properties(ics: bytes) -> dict[str, str]:
    return dict(line.split(":", 1) for line in calendar_lines(ics))


def the_qr_code_in(png: bytes) -> str:
    barcodes = zxingcpp.read_barcodes(
        Image.open(io.BytesIO(png)).convert("RGB"), formats=zxingcpp.BarcodeFormat.QRCode
    )
    assert len(barcodes) == 1
    return barcodes[0].text


def the_mail(office: BoxOffice):
    (mail,) = office.mail()
    return mail


# --- what arrives -------------------------------------------------------------------------


def test_the_ticket_mail_arrives_with_text_html_inline_qr_code_and_calendar_file(
    office, mail_runtime, smtp_port
):
    show = office.show(title="Harbour Lights; Night, One")
    confirmation = office.confirm(show, name="Ada Lovelace")
    ticket = office.ticket_of(confirmation)

    with smtp_server(smtp_port, Inbox()) as inbox:
        assert MailRelay(mail_runtime).send_due(NOW) == 1

    (message,) = inbox.messages
    assert inbox.recipients == [[confirmation.data["attendee"]["email"]]]
    assert message["To"].addresses[0].display_name == "Ada Lovelace"
    assert message["From"] == "Harbour Lights <tickets@example.org>"
    assert message["Subject"] == "Your ticket: Harbour Lights; Night, One"
    part = parts(message)

    key = url_key(mail_runtime.secret_box, ticket.id)
    page_link = f"{PUBLIC_URL}/api/ticketing/pages/tickets/{ticket.id}?key={key}"
    plain = part["plain"].get_content()
    assert f"{page_link}&lang=en" in plain
    assert "Saturday, June 1, 2030, 6:00\u202fPM – 10:00\u202fPM (Hong Kong Standard Time)" in plain
    assert "Lok Ma Chau Loop, Hall A" in plain

    html = part["html"].get_content()
    content_id = part["image"]["Content-ID"].strip("<>")
    assert f'src="cid:{content_id}"' in html
    assert part["image"].get_content_disposition() == "inline"
    assert f'href="{page_link}&amp;lang=en"' in html
    assert the_qr_code_in(part["image"].get_content()) == ticket.payload

    assert part["calendar"].get_filename() == "event.ics"
    event = calendar_properties(part["calendar"].get_content().encode())
    assert event["DTSTART"] == "20300601T100000Z"
    assert event["DTEND"] == "20300601T140000Z"
    assert event["SUMMARY"] == "Harbour Lights\\; Night\\, One"
    assert event["LOCATION"] == "Lok Ma Chau Loop\\, Hall A"
    assert event["URL"] == f"{page_link}&lang=en"
    assert event["UID"] == f"{confirmation.registration_id}@tickets.example.org"

    assert the_mail(office).status == mail_outbox.SENT


@pytest.mark.parametrize(
    ("locale", "subject", "greeting", "when"),
    [
        (
            "zh-HK",
            "你的門票：Harbour Lights 港燈夜",
            "陳大文，你好：",
            "2030年6月1日星期六 下午6:00 – 下午10:00（香港標準時間）",
        ),
        (
            "zh_Hans_CN",
            "你的门票：Harbour Lights 港燈夜",
            "陳大文，你好：",
            "2030年6月1日星期六 18:00 – 22:00（香港标准时间）",
        ),
    ],
)
def test_the_mail_is_in_the_language_the_attendee_registered_in(
    office, mail_runtime, smtp_port, locale, subject, greeting, when
):
    show = office.show()
    ticket = office.ticket_of(office.confirm(show, locale=locale))

    with smtp_server(smtp_port, Inbox()) as inbox:
        MailRelay(mail_runtime).send_due(NOW)

    (message,) = inbox.messages
    assert message["Subject"] == subject
    plain = parts(message)["plain"].get_content()
    assert plain.startswith(greeting)
    assert when in plain
    assert the_qr_code_in(parts(message)["image"].get_content()) == ticket.payload


def test_a_reissued_tickets_mail_says_it_replaces_the_earlier_one(office, mail_runtime, smtp_port):
    show = office.show()
    confirmation = office.confirm(show)
    with smtp_server(smtp_port, Inbox()) as inbox:
        MailRelay(mail_runtime).send_due(NOW)
        replacement = office.reissue(office.ticket_of(confirmation))
        MailRelay(mail_runtime).send_due(NOW)

    first, second = (parts(message)["plain"].get_content() for message in inbox.messages)
    notice = "This ticket replaces your earlier one, which no longer admits you."
    assert notice not in first
    assert notice in second
    assert replacement.id in second
    assert the_qr_code_in(parts(inbox.messages[1])["image"].get_content()) == replacement.payload


def test_a_ticket_revoked_before_its_mail_went_out_is_not_mailed(office, mail_runtime, smtp_port):
    show = office.show()
    confirmation = office.confirm(show)
    office.cancel(confirmation)

    with smtp_server(smtp_port, Inbox()) as inbox:
        MailRelay(mail_runtime).send_due(NOW)

    assert inbox.messages == []
    assert the_mail(office).status == mail_outbox.SKIPPED


# --- when the mail server fails -----------------------------------------------------------


def test_a_mail_server_that_is_down_delays_the_mail_and_loses_nothing(
    office, mail_runtime, smtp_port
):
    ticket = office.ticket_of(office.confirm(office.show()))
    relay = MailRelay(mail_runtime)

    assert relay.send_due(NOW) == 1  # nothing listens on the port: connection refused

    waiting = the_mail(office)
    assert (waiting.status, waiting.attempts) == (mail_outbox.PENDING, 1)
    assert "ConnectionRefusedError" in waiting.last_error
    assert waiting.next_attempt_at == NOW + mail_outbox.FIRST_RETRY

    with smtp_server(smtp_port, Inbox()) as inbox:
        assert relay.send_due(NOW + timedelta(seconds=10)) == 0  # not due again yet
        assert relay.send_due(NOW + timedelta(seconds=31)) == 1

    (message,) = inbox.messages
    assert the_qr_code_in(parts(message)["image"].get_content()) == ticket.payload
    delivered = the_mail(office)
    assert (delivered.status, delivered.attempts) == (mail_outbox.SENT, 2)


def test_a_temporary_refusal_is_tried_again_later(office, mail_runtime, smtp_port):
    office.confirm(office.show())

    with smtp_server(smtp_port, Inbox(refuse_recipients_with="451 4.3.0 Try again later")):
        MailRelay(mail_runtime).send_due(NOW)

    waiting = the_mail(office)
    assert waiting.status == mail_outbox.PENDING
    assert "451" in waiting.last_error


def test_a_permanent_refusal_of_the_recipient_is_not_tried_again(office, mail_runtime, smtp_port):
    office.confirm(office.show())
    relay = MailRelay(mail_runtime)

    with smtp_server(smtp_port, Inbox(refuse_recipients_with="550 5.1.1 No such user")):
        relay.send_due(NOW)
        assert relay.send_due(NOW + timedelta(days=2)) == 0

    refused = the_mail(office)
    assert (refused.status, refused.attempts) == (mail_outbox.FAILED, 1)
    assert "550" in refused.last_error


def test_retries_are_bounded_and_spaced_out_then_the_mail_is_marked_failed(office, mail_runtime):
    office.confirm(office.show())
    relay = MailRelay(mail_runtime)
    moment = NOW

    for attempt in range(1, mail_outbox.MAX_ATTEMPTS + 1):
        assert relay.send_due(moment) == 1
        moment += mail_outbox.retry_delay(attempt)

    given_up = the_mail(office)
    assert (given_up.status, given_up.attempts) == (mail_outbox.FAILED, mail_outbox.MAX_ATTEMPTS)
    assert relay.send_due(moment + timedelta(days=30)) == 0
    assert mail_outbox.retry_delay(1) == timedelta(seconds=30)
    assert mail_outbox.retry_delay(30) == timedelta(hours=1)
    total = sum(
        (mail_outbox.retry_delay(n) for n in range(1, mail_outbox.MAX_ATTEMPTS)), timedelta()
    )
    assert timedelta(hours=20) < total < timedelta(hours=30)


# --- without an SMTP server: the mailbox folder ---------------------------------------------


def test_without_an_smtp_url_each_mail_is_an_eml_file_in_the_mailbox(box_office, ticketing_runtime):
    ticket = box_office.ticket_of(box_office.confirm(box_office.show()))

    MailRelay(ticketing_runtime).send_due(NOW)

    mail = the_mail(box_office)
    (file,) = (ticketing_runtime.settings.data_dir / "mailbox").iterdir()
    assert file.name == f"{mail.id}.eml"
    message = BytesParser(policy=policy.default).parsebytes(file.read_bytes())
    assert message["Message-ID"].startswith(f"<{mail.id}@")
    assert the_qr_code_in(parts(message)["image"].get_content()) == ticket.payload
    assert mail.status == mail_outbox.SENT


# --- the calendar file --------------------------------------------------------------------


def test_the_calendar_file_folds_long_chinese_lines_without_splitting_a_character():
    title = "港深創科展：藝術、科技與文化的夜晚；" * 6
    ics = calendar_file(
        CalendarEvent(
            uid="r-1@example.org",
            title=title,
            starts_at=SHOW_STARTS,
            ends_at=SHOW_ENDS,
            location="Hall A\nEast wing",
            description="Back\\slash",
            url="https://tickets.example.org/t",
        ),
        stamped_at=NOW,
    )

    lines = calendar_lines(ics)  # checks CRLF and 75 octets a line
    event = calendar_properties(ics)

    assert (lines[0], lines[-1]) == ("BEGIN:VCALENDAR", "END:VCALENDAR")
    assert event["SUMMARY"] == title  # full-width punctuation needs no escaping
    assert event["LOCATION"] == "Hall A\\nEast wing"
    assert event["DESCRIPTION"] == "Back\\\\slash"
    assert event["DTSTAMP"] == "20300520T090000Z"
