"""The mail settings: LOOPGATE_SMTP_URL, LOOPGATE_PUBLIC_URL, LOOPGATE_MAIL_FROM and
LOOPGATE_MAIL_FIRST_RETRY_SECONDS. A bad
value stops the start with a message that says what is expected, rather than failing the
first mail hours later."""

from datetime import timedelta

import pytest

from services.ticketing.mail.outbox import retry_delay
from shared.settings import Settings, SettingsError, SmtpServer


def settings(**environment) -> Settings:
    return Settings.from_env({f"LOOPGATE_{name}": value for name, value in environment.items()})


@pytest.mark.parametrize(
    ("url", "server"),
    [
        ("smtp://mail.example.org", SmtpServer("mail.example.org", 25, starttls=False)),
        ("smtp://127.0.0.1:2525", SmtpServer("127.0.0.1", 2525, starttls=False)),
        (
            "smtp+starttls://tickets%40example.org:p%40ss%3Aword@smtp.example.org",
            SmtpServer("smtp.example.org", 587, True, "tickets@example.org", "p@ss:word"),
        ),
        (
            "smtp+starttls://user:secret@smtp.example.org:2587",
            SmtpServer("smtp.example.org", 2587, True, "user", "secret"),
        ),
    ],
)
def test_an_smtp_url_names_the_server_the_port_tls_and_the_login(url, server):
    assert settings(SMTP_URL=url).smtp_server == server


@pytest.mark.parametrize(
    "url", ["mail.example.org", "http://mail.example.org", "smtps://x", "smtp://", "smtp://h:port"]
)
def test_a_bad_smtp_url_stops_the_start(url):
    with pytest.raises(SettingsError, match="LOOPGATE_SMTP_URL"):
        settings(SMTP_URL=url)


def test_without_an_smtp_url_mail_goes_to_the_mailbox_in_the_data_dir(tmp_path):
    configured = settings(DATA_DIR=str(tmp_path))

    assert configured.smtp_server is None
    assert configured.mailbox_dir == tmp_path / "mailbox"


def test_the_public_url_defaults_to_this_machine_on_the_configured_port():
    assert settings().public_url == "http://127.0.0.1:8000"
    assert settings(PORT="9000").public_url == "http://127.0.0.1:9000"
    assert settings(PUBLIC_URL="https://tickets.example.org/").public_url == (
        "https://tickets.example.org"
    )


@pytest.mark.parametrize("url", ["tickets.example.org", "ftp://x", "https://x/?a=1"])
def test_a_public_url_that_cannot_prefix_a_link_stops_the_start(url):
    with pytest.raises(SettingsError, match="LOOPGATE_PUBLIC_URL"):
        settings(PUBLIC_URL=url)


def test_the_sender_address_must_be_an_address():
    assert settings(MAIL_FROM="Demo <demo@example.org>").mail_from == "Demo <demo@example.org>"
    with pytest.raises(SettingsError, match="LOOPGATE_MAIL_FROM"):
        settings(MAIL_FROM="Loopgate")


def test_the_first_retry_comes_after_30_seconds_unless_shortened_then_doubles():
    assert settings().mail_first_retry_seconds == 30
    shortened = settings(MAIL_FIRST_RETRY_SECONDS="2").mail_first_retry_seconds
    first = timedelta(seconds=shortened)
    assert [retry_delay(attempt, first).total_seconds() for attempt in (1, 2, 3)] == [2, 4, 8]
    assert retry_delay(40, first) == timedelta(hours=1)


@pytest.mark.parametrize("value", ["0", "-1", "soon", "nan", "inf"])
def test_a_first_retry_that_is_not_a_positive_number_of_seconds_stops_the_start(value):
    with pytest.raises(SettingsError, match="LOOPGATE_MAIL_FIRST_RETRY_SECONDS"):
        settings(MAIL_FIRST_RETRY_SECONDS=value)
