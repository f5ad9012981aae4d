"""Logging: JSON lines in distributed mode (for log collectors), readable text embedded, and
a correlation id that follows a registration through all three services.

The correlation id comes from the `X-Correlation-ID` request header (or is made at the edge),
travels in every event's envelope, and is set again by the consumer that handles the event,
so each service's log lines and events for one registration share it.

Every line is redacted before it is written (RedactSecrets): manage tokens, QR keys, pairing
and invitation codes, bearer tokens and door search terms never reach a log file.
"""

import json
import logging
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

_correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)


def current_correlation_id() -> str | None:
    return _correlation_id.get()


def set_correlation_id(value: str | None) -> None:
    _correlation_id.set(value)


def new_correlation_id() -> str:
    return str(uuid.uuid4())


REDACTED = "[redacted]"

# Query parameters that carry a secret (a manage token, a QR image key, a pairing code) or
# what door staff typed to find someone.
_SECRET_QUERY_VALUE = re.compile(
    r"(?<=[?&;])((?:[\w-]*token|key|code|q|search|password|secret)=)[^&;#\s\"'\\]*", re.I
)
# An Authorization header's value, bearer tokens wherever they appear, and the invitation
# token a mailed link ends with.
_SECRET_VALUE = re.compile(
    r"(authorization[\"']?\s*[:=]\s*[\"']?(?:basic |bearer )?|\bbearer\s+|/invitations/)"
    r"[^\s\"',;&/?}]+",
    re.I,
)


def redact(text: str) -> str:
    """`text` with every secret and search term in it replaced by [redacted]."""
    text = _SECRET_QUERY_VALUE.sub(lambda match: match.group(1) + REDACTED, text)
    return _SECRET_VALUE.sub(lambda match: match.group(1) + REDACTED, text)


class RedactSecrets(logging.Filter):
    """Redacts a record's message and traceback in place, whoever formats it afterwards:
    put on every handler (and on loggers whose handlers are not ours, e.g. gunicorn's)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str):
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "service": self._service,
            "logger": record.name,
            "message": record.getMessage(),
            "correlation_id": current_correlation_id(),
        }
        if record.exc_info:
            line["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        correlation_id = current_correlation_id()
        return f"{text} [{correlation_id}]" if correlation_id else text


def configure_logging(service: str, json_lines: bool, level: str = "INFO") -> None:
    """Send the process's logs to stderr, once; later calls change nothing."""
    root = logging.getLogger()
    if any(getattr(handler, "loopgate", False) for handler in root.handlers):
        return
    handler = logging.StreamHandler()
    handler.loopgate = True
    handler.addFilter(RedactSecrets())
    handler.setFormatter(
        JsonFormatter(service)
        if json_lines
        else _TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root.addHandler(handler)
    root.setLevel(level.upper())
