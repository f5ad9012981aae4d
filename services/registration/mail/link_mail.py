"""A mail that holds one link for a team member (an invitation, a password reset): plain text
and an HTML alternative, in the reader's language.

Mail is written in the worker, outside any web request, so it reads registration's message
catalogue itself (Babel's Translations) rather than through Flask-Babel. The texts are in
the modules of each mail, where `make translations` finds them (registration's babel.cfg
extracts Python and HTML templates); the HTML part is a template of this package's
(templates/, package data like the pages'), with nothing to translate in it, that escapes
every text it is given.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
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
    """A mail's texts, translated, shared by its plain and HTML parts."""

    lang: str
    subject: str
    heading: str
    body: str
    open_link: str
    button: str
    link_url: str
    validity: str
    why: str


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
    moment = moment.astimezone(UTC)
    day = format_date(moment, "long", locale=locale)
    time = format_time(moment, "short", tzinfo=UTC, locale=locale)
    pattern = str(Locale.parse(locale).datetime_formats["medium"])
    return pattern.replace("{1}", day).replace("{0}", time)


def plain_text(text: LinkMailText) -> str:
    paragraphs = [
        text.heading,
        text.body,
        f"{text.open_link}\n{text.link_url}",
        text.validity,
        "--",
        text.why,
    ]
    return "\n\n".join(paragraphs) + "\n"


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
