"""Logging: JSON lines in distributed mode (for log collectors), readable text embedded, and
a correlation id that follows a registration through all three services.

The correlation id comes from the `X-Correlation-ID` request header (or is made at the edge),
travels in every event's envelope, and is set again by the consumer that handles the event,
so each service's log lines and events for one registration share it.
"""

import json
import logging
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
            line["exception"] = self.formatException(record.exc_info)
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
    handler.setFormatter(
        JsonFormatter(service)
        if json_lines
        else _TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root.addHandler(handler)
    root.setLevel(level.upper())
