"""An iCalendar (RFC 5545) file with one event, for the ticket mail's .ics attachment.

Written with the standard library: one VEVENT needs only the format's three rules, kept
here: lines end in CRLF and are folded at 75 octets (never inside a UTF-8 character, since
titles are often Chinese), text values escape backslash, semicolon, comma and newline, and
times are written in UTC so no VTIMEZONE block is needed.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

LINE_OCTETS = 75


@dataclass(frozen=True)
class CalendarEvent:
    uid: str
    title: str
    starts_at: datetime
    ends_at: datetime
    location: str
    description: str
    url: str


def calendar_file(event: CalendarEvent, stamped_at: datetime) -> bytes:
    properties = [
        ("BEGIN", "VCALENDAR"),
        ("VERSION", "2.0"),
        ("PRODID", "-//Loopgate//Tickets//EN"),
        ("CALSCALE", "GREGORIAN"),
        ("BEGIN", "VEVENT"),
        ("UID", _text(event.uid)),
        ("DTSTAMP", _utc(stamped_at)),
        ("DTSTART", _utc(event.starts_at)),
        ("DTEND", _utc(event.ends_at)),
        ("SUMMARY", _text(event.title)),
        ("LOCATION", _text(event.location)),
        ("DESCRIPTION", _text(event.description)),
        ("URL", event.url),
        ("END", "VEVENT"),
        ("END", "VCALENDAR"),
    ]
    return b"".join(_folded(f"{name}:{value}") for name, value in properties if value)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _text(value: str) -> str:
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def _folded(line: str) -> bytes:
    """The line as CRLF-ended octets, continued on lines that start with a space."""
    out = bytearray()
    width = 0
    limit = LINE_OCTETS
    for char in line:
        encoded = char.encode()
        if width + len(encoded) > limit:
            out += b"\r\n "
            width = 0
            limit = LINE_OCTETS - 1  # the leading space counts
        out += encoded
        width += len(encoded)
    return bytes(out) + b"\r\n"
