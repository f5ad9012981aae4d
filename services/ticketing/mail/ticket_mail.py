"""The mail an attendee gets with each new ticket, in their language: plain text and HTML
alternatives, the QR code inline in the HTML (cid), the event as an .ics attachment, and the
link to the ticket page.

Mail is written in the worker, outside any web request, so its templates are rendered by a
Jinja environment of their own that reads the same message catalogues as the pages.

    multipart/mixed
      multipart/alternative
        text/plain
        multipart/related
          text/html             <img src="cid:...">
          image/png             the QR code, inline
      text/calendar             event.ics, attached
"""

from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr
from functools import cache
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from babel import Locale
from babel.support import Translations
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from services.ticketing.calendar_file import CalendarEvent, calendar_file
from services.ticketing.models import EventInfo, Ticket
from services.ticketing.qr_codes import QrImages
from services.ticketing.ticket_record import mail_locale
from services.ticketing.ticket_view import ticket_view

# The service's folder: the mail reads the pages' templates and catalogues.
SERVICE_DIR = Path(__file__).parents[1]
# The ticket page's route (pages.ticket_page), as the public URL sees it.
TICKET_PAGE_PATH = "/api/ticketing/pages/tickets/{ticket_id}"


@dataclass(frozen=True)
class Letterhead:
    """What every ticket mail needs besides the ticket: from settings."""

    sender: str
    public_url: str


def ticket_page_url(public_url: str, ticket: Ticket, url_key: str, locale: str) -> str:
    query = urlencode({"key": url_key, "lang": locale})
    return f"{public_url}{TICKET_PAGE_PATH.format(ticket_id=ticket.id)}?{query}"


def ticket_mail(
    ticket: Ticket,
    url_key: str,
    event: EventInfo,
    images: QrImages,
    replaces_earlier: bool,
    letterhead: Letterhead,
    now: datetime,
) -> EmailMessage:
    """The message, but for its Message-ID and Date, which the mail relay stamps on each
    attempt (shared/mail/relay.py). `url_key` opens the ticket's page (ticket_secrets); `now`
    stamps the calendar file."""
    locale = mail_locale(ticket)
    templates, translations = _catalogue(locale)
    domain = parseaddr(letterhead.sender)[1].rpartition("@")[2]
    page_url = ticket_page_url(letterhead.public_url, ticket, url_key, locale)
    qr_cid = make_msgid("qr", domain=domain)
    view = ticket_view(ticket, event, Locale.parse(locale))
    context = {
        "view": view,
        "page_url": page_url,
        "qr_cid": qr_cid[1:-1],
        "replaces_earlier": replaces_earlier,
        "lang": locale.replace("_", "-"),
    }

    message = EmailMessage()
    subject = translations.gettext("Your ticket: %(title)s")
    message["Subject"] = subject % {"title": view.event_title}
    message["From"] = letterhead.sender
    message["To"] = Address(display_name=ticket.attendee_name, addr_spec=ticket.attendee_email)
    message["Content-Language"] = context["lang"]
    message.set_content(templates.get_template("mail/ticket.txt").render(context))
    message.add_alternative(
        templates.get_template("mail/ticket.html").render(context), subtype="html"
    )
    message.get_payload()[1].add_related(
        images.png, "image", "png", cid=qr_cid, filename="ticket-qr.png", disposition="inline"
    )
    message.add_attachment(
        calendar_file(
            CalendarEvent(
                # One calendar entry per registration: a reissued ticket updates it.
                uid=f"{ticket.registration_id}@{urlsplit(letterhead.public_url).hostname}",
                title=view.event_title,
                starts_at=event.starts_at,
                ends_at=event.ends_at,
                location=view.venue,
                description=translations.gettext("Your ticket page: %(url)s") % {"url": page_url},
                url=page_url,
            ),
            stamped_at=now,
        ),
        maintype="text",
        subtype="calendar",
        # Said, though UTF-8 is text/calendar's default: mail's own default for text is ASCII.
        params={"charset": "utf-8"},
        filename="event.ics",
    )
    return message


@cache
def _catalogue(locale: str) -> tuple[Environment, Translations]:
    environment = Environment(
        loader=FileSystemLoader(SERVICE_DIR / "templates"),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    translations = Translations.load(SERVICE_DIR / "translations", [locale])
    # New-style gettext, as Flask-Babel installs it for the pages: %(name)s placeholders
    # filled from keyword arguments, and output escaped in HTML templates.
    environment.install_gettext_translations(translations, newstyle=True)
    return environment, translations
