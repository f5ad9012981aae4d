"""A mail that holds one link (a team member's invitation or password reset, an attendee's
manage page): plain text and an HTML alternative, in the reader's language.

Mail is written in the worker, outside any web request, so it reads registration's message
catalogue itself (Babel's Translations) rather than through Flask-Babel. The texts are in
the modules of each mail, where `make translations` finds them (registration's babel.cfg
extracts Python and HTML templates); the HTML part is a template of this package's
(templates/, package data like the pages'), with nothing to translate in it, that escapes
every text it is given.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from email.message import EmailMessage
from functools import cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_time
from babel.support import Translations
from jinja2 import Environment, FileSystemLoader, StrictUndefined

TRANSLATIONS_DIR = Path(__file__).parents[1] / "translations"


@dataclass(frozen=True)
class Letterhead:
    """What every such mail needs besides its subject: from settings."""

    sender: str
    public_url: str


@dataclass(frozen=True)
class LinkMailText:
    """A mail's texts, translated, shared by its plain and HTML parts. Without `link_url`,
    `open_link` stands alone (it then says where the link is instead) and no button shows."""

    lang: str
    subject: str
    heading: str
    body: str
    open_link: str
    button: str
    link_url: str | None
    why: str
    validity: str = ""
    # Paragraphs after the body (the organiser's reason for a refusal).
    more: tuple[str, ...] = ()
    # (label, value) lines of what the mail is about: the event, its time and place.
    facts: tuple[tuple[str, str], ...] = ()


def link_mail(recipient: str, text: LinkMailText, letterhead: Letterhead) -> EmailMessage:
    """The message, but for its Message-ID and Date, which the mail relay stamps on each
    attempt (shared/mail/relay.py)."""
    message = EmailMessage()
    message["Subject"] = text.subject
    message["From"] = letterhead.sender
    message["To"] = recipient
    message.set_content(plain_text(text))
    message.add_alternative(_html_template().render(text=text), subtype="html")
    # After the parts: making the message multipart moves the Content-* headers into its
    # first part.
    message["Content-Language"] = text.lang
    return message


def readable_utc_time(moment: datetime, locale: str) -> str:
    """ "June 14, 2030, 6:05 PM", "2030年6月14日 下午6:05": the day and the time in UTC,
    joined as the language joins them."""
    return readable_time(moment, locale, UTC)


def readable_time(moment: datetime, locale: str, zone: tzinfo) -> str:
    """The day and the time in `zone`, joined as the language joins them."""
    moment = moment.astimezone(zone)
    day = format_date(moment, "long", locale=locale)
    time = format_time(moment, "short", tzinfo=zone, locale=locale)
    pattern = str(Locale.parse(locale).datetime_formats["medium"])
    return pattern.replace("{1}", day).replace("{0}", time)


def plain_text(text: LinkMailText) -> str:
    link = f"{text.open_link}\n{text.link_url}" if text.link_url else text.open_link
    facts = "\n".join(f"{label}: {value}" for label, value in text.facts)
    paragraphs = [
        text.heading,
        text.body,
        *text.more,
        facts,
        link,
        text.validity,
        "--",
        text.why,
    ]
    return "\n\n".join(paragraph for paragraph in paragraphs if paragraph) + "\n"


@cache
def translations(locale: str) -> Translations:
    # English is the catalogue's own language: no file, so the texts as they are written.
    return Translations.load(TRANSLATIONS_DIR, [locale])


@cache
def _html_template():
    environment = Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return environment.get_template("link_mail.html")
