"""What the ticket page and the ticket mail show of a ticket, in the reader's language.

Times are the venue's, with the zone named, never the reader's browser or mail client time
zone: attendees travel to the venue. CLDR (through Babel) supplies the date and time
patterns: "Saturday, June 1, 2030", "2030年6月1日星期六"; "6:00 PM", "下午6:00", "18:00".
"""

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_skeleton, format_time, get_timezone_name

from services.ticketing.models import EventInfo, Ticket
from services.ticketing.service import VALID


@dataclass(frozen=True)
class TicketView:
    attendee_name: str
    event_title: str
    when: str
    zone: str
    venue: str
    ticket_type: str
    valid: bool
    # cancelled, reissued or key_retired when the ticket is revoked
    revoked_reason: str | None
    event_cancelled: bool


def ticket_view(ticket: Ticket, event: EventInfo, locale: Locale) -> TicketView:
    return TicketView(
        attendee_name=ticket.attendee_name,
        event_title=event_title(event, locale),
        when=event_time(event.starts_at, event.ends_at, event.timezone, locale),
        zone=zone_name(event.starts_at, event.timezone, locale),
        venue=event_venue(event, locale),
        ticket_type=ticket_type_name(event, ticket.ticket_type_id, locale),
        valid=ticket.status == VALID,
        revoked_reason=ticket.revoked_reason,
        event_cancelled=event.status == "cancelled",
    )


def event_title(event: EventInfo, locale: Locale) -> str:
    """The organiser's title in the reader's language, else the one they wrote first."""
    return _texts(event, locale).get("title") or event.title


def event_venue(event: EventInfo, locale: Locale) -> str:
    return _texts(event, locale).get("venue") or event.venue


def ticket_type_name(event: EventInfo, ticket_type_id: str, locale: Locale) -> str:
    names = _texts(event, locale).get("ticket_type_names") or {}
    return names.get(ticket_type_id) or (event.ticket_type_names or {}).get(ticket_type_id, "")


def _texts(event: EventInfo, locale: Locale) -> dict:
    return (event.translations or {}).get(str(locale)) or {}


def event_time(starts_at: datetime, ends_at: datetime, timezone: str, locale: Locale) -> str:
    """ "Saturday, June 1, 2030, 6:00 PM – 10:00 PM", or both dates when it spans days."""
    zone = ZoneInfo(timezone)
    start, end = starts_at.astimezone(zone), ends_at.astimezone(zone)
    if start.date() == end.date():
        day = format_date(start, "full", locale=locale)
        return _date_and_time(locale, day, f"{_time(start, locale)} – {_time(end, locale)}")
    return f"{_day_and_time(start, locale)} – {_day_and_time(end, locale)}"


def zone_name(starts_at: datetime, timezone: str, locale: Locale) -> str:
    """The zone as it is when the event starts: "Hong Kong Standard Time", "香港標準時間",
    "British Summer Time"."""
    return get_timezone_name(starts_at.astimezone(ZoneInfo(timezone)), "long", locale=locale)


def _time(moment: datetime, locale: Locale) -> str:
    return format_time(moment, "short", tzinfo=moment.tzinfo, locale=locale)


def _day_and_time(moment: datetime, locale: Locale) -> str:
    day = format_skeleton("yMMMEd", moment, tzinfo=moment.tzinfo, locale=locale)
    return _date_and_time(locale, day, _time(moment, locale))


def _date_and_time(locale: Locale, date: str, time: str) -> str:
    """Joined as the language joins them: "{1}, {0}" in English, "{1} {0}" in Chinese."""
    return str(locale.datetime_formats["medium"]).replace("{1}", date).replace("{0}", time)
