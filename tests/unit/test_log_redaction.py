"""No log line shows a secret or a door search term (shared/logs.py): what the embedded access
log, tracebacks and gunicorn's own lines would otherwise have written."""

import logging

import pytest

from shared.logs import JsonFormatter, RedactSecrets, configure_logging, redact


@pytest.mark.parametrize(
    ("line", "redacted"),
    [
        (
            '"GET /api/registration/registrations/9b1d?token=Zx9-secret HTTP/1.1" 200',
            '"GET /api/registration/registrations/9b1d?token=[redacted] HTTP/1.1" 200',
        ),
        (
            "/api/ticketing/tickets/9b1d/qr.png?key=Kq1_secret&size=4",
            "/api/ticketing/tickets/9b1d/qr.png?key=[redacted]&size=4",
        ),
        (
            "/api/checkin/events/9b1d/tickets?list=a&q=Wong%20Ka&search=kayan@example.com",
            "/api/checkin/events/9b1d/tickets?list=a&q=[redacted]&search=[redacted]",
        ),
        ("/api/checkin/scanner?code=483-221#pair", "/api/checkin/scanner?code=[redacted]#pair"),
        ("/manage?manage_token=abc", "/manage?manage_token=[redacted]"),
        ("Authorization: Bearer abc.def", "Authorization: Bearer [redacted]"),
        ("{'Authorization': 'Basic b3JnOnB3'}", "{'Authorization': 'Basic [redacted]'}"),
        ('"authorization": "tok-1"', '"authorization": "[redacted]"'),
        ("refused bearer s3cr3t-token for checkin", "refused bearer [redacted] for checkin"),
        (
            "POST /api/registration/invitations/Inv1te_tok/accept",
            "POST /api/registration/invitations/[redacted]/accept",
        ),
        # Names that merely contain a secret's name, and paths, are kept.
        (
            "/events?keyword=x&ticket_type_id=7&frequency=2",
            "/events?keyword=x&ticket_type_id=7&frequency=2",
        ),
        (
            "POST /api/registration/members/invitations 201",
            "POST /api/registration/members/invitations 201",
        ),
    ],
)
def test_secrets_and_search_terms_are_redacted(line, redacted):
    assert redact(line) == redacted
    assert redact(redacted) == redacted


def record(message: str, *args, exc_info=None) -> logging.LogRecord:
    return logging.LogRecord("test", logging.ERROR, __file__, 1, message, args, exc_info)


def test_a_message_is_redacted_after_its_arguments_are_put_in():
    line = record('"GET %s"', "/r/1?token=abc")
    RedactSecrets().filter(line)
    assert logging.Formatter().format(line) == '"GET /r/1?token=[redacted]"'


def test_a_traceback_is_redacted_in_text_and_json_lines():
    try:
        raise ValueError("no registration for /r/1?token=abc")
    except ValueError as error:
        line = record("failed", exc_info=(type(error), error, error.__traceback__))
    RedactSecrets().filter(line)
    for formatter in (logging.Formatter(), JsonFormatter("registration")):
        text = formatter.format(line)
        assert "token=[redacted]" in text
        assert "abc" not in text


def test_the_process_handler_redacts_every_line(monkeypatch):
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", root.level)
    configure_logging("registration", json_lines=True)
    (handler,) = root.handlers
    assert any(isinstance(each, RedactSecrets) for each in handler.filters)
