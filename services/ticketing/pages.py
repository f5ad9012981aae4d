"""The attendee's ticket page, and the mailbox page of embedded mode.

The ticket page opens from the ticket mail (the ticket's own key) or from the registration's
manage link (its manage token, showing the registration's current ticket). It holds
everything in itself, the QR code as an SVG data URI included, and a Content-Security-Policy
that lets it load nothing else: once loaded it works with no connection, and it prints.
"""

import base64
import ipaddress
import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from flask import Response, make_response, render_template, request, url_for
from flask_babel import format_datetime, get_locale

from services.ticketing import schemas, service
from services.ticketing.models import Ticket
from services.ticketing.ticket_view import ticket_view
from shared.errors import N_, NotFound
from shared.http import Blueprint, current_runtime, manage_token, page_url
from shared.i18n import LANGUAGE_NAMES, LOCALES
from shared.mail.delivery import MailboxFolder

blp = Blueprint(
    "ticketing_pages",
    __name__,
    description="Pages (HTML): the attendee's ticket page, the mailbox of embedded mode",
)

# Nothing from anywhere else; inline styles and data: images only.
SELF_CONTAINED = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
MAILBOX_ENTRIES = 200


@blp.route("/pages/tickets/<uuid:ticket_id>")
@blp.arguments(schemas.TicketPageByKeyQuery, location="query")
@blp.response(200, content_type="text/html")
def ticket_page(query, ticket_id):
    """A ticket's page, from its mail: QR code, event, time, venue, attendee, in the
    attendee's language."""
    runtime = current_runtime()
    with runtime.session_factory() as session:
        try:
            ticket = service.ticket_by_key(
                session, runtime.secret_box, str(ticket_id), query["key"]
            )
        except NotFound:
            return _missing()
    return _ticket_page(ticket)


@blp.route("/pages/registrations/<uuid:registration_id>/ticket")
@blp.arguments(schemas.TicketPageByTokenQuery, location="query")
@blp.response(200, content_type="text/html")
def registration_ticket_page(query, registration_id):
    """The page of a registration's current ticket, from its manage link."""
    runtime = current_runtime()
    with runtime.session_factory() as session:
        try:
            ticket = service.attendee_ticket(session, str(registration_id), manage_token())
        except NotFound:
            return _missing()
    return _ticket_page(ticket)


@blp.route("/mailbox")
@blp.response(200, content_type="text/html")
def mailbox():
    """Embedded mode, from this machine only: the mail written to the mailbox folder."""
    folder = _mailbox_folder()
    entries = [
        {
            "date_text": format_datetime(entry.date, "medium") if entry.date else "",
            "to": entry.to,
            "subject": entry.subject,
            "read_url": url_for(".mailbox_mail", mail_id=entry.id),
            "eml_url": url_for(".mailbox_mail_file", mail_id=entry.id),
        }
        for entry in folder.entries(MAILBOX_ENTRIES)
    ]
    return _self_contained(_page("mailbox.html", entries=entries, folder=folder.path))


@blp.route("/mailbox/<uuid:mail_id>")
@blp.response(200, content_type="text/html")
def mailbox_mail(mail_id):
    """One mail as its recipient sees it (its HTML part, inline images in place)."""
    message = BytesParser(policy=policy.default).parsebytes(_mail_file(mail_id))
    return _self_contained(Response(_readable_html(message), mimetype="text/html"))


@blp.route("/mailbox/<uuid:mail_id>.eml")
@blp.response(200, content_type="message/rfc822")
def mailbox_mail_file(mail_id):
    """One mail as an .eml file, for a mail client."""
    return Response(
        _mail_file(mail_id),
        mimetype="message/rfc822",
        headers={"Content-Disposition": f'attachment; filename="{mail_id}.eml"'},
    )


def _ticket_page(ticket: Ticket) -> Response:
    runtime = current_runtime()
    with runtime.session_factory() as session:
        event = service.ticket_event(session, ticket)
    view = ticket_view(ticket, event, get_locale())
    qr_data_uri = None
    if view.valid:  # a revoked ticket shows no code that could be mistaken for a ticket
        svg = service.ticket_images(runtime.unit_of_work(), ticket).svg
        qr_data_uri = "data:image/svg+xml;base64," + base64.b64encode(svg).decode()
    response = _page("ticket_page.html", view=view, qr_data_uri=qr_data_uri)
    # Always asked again when online, so a revocation shows at once.
    response.headers["Cache-Control"] = "private, no-cache"
    return _self_contained(response)


def _missing() -> Response:
    return _self_contained(_page("ticket_missing.html", status=404))


def _page(template: str, status: int = 200, **context) -> Response:
    current = str(get_locale())
    languages = [
        {
            "tag": _language_tag(locale),
            "name": LANGUAGE_NAMES[locale],
            "href": page_url(request.endpoint, {**request.args, "lang": locale}),
            "current": locale == current,
        }
        for locale in LOCALES
    ]
    html = render_template(template, lang=_language_tag(current), languages=languages, **context)
    return make_response(html, status)


def _language_tag(locale: str) -> str:
    """BCP 47, as the lang attribute wants it: zh_Hant_HK is zh-Hant-HK."""
    return locale.replace("_", "-")


def _self_contained(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = SELF_CONTAINED
    response.headers["Referrer-Policy"] = "no-referrer"  # the URL carries the ticket's key
    return response


def _mailbox_folder() -> MailboxFolder:
    """The mailbox, which exists only where no SMTP server is set. Shown only in embedded
    mode and only to a browser on the same machine: every mail in it holds a ticket, and an
    embedded instance may listen on the venue network for door devices."""
    settings = current_runtime().settings
    if (
        not settings.is_embedded
        or settings.smtp_url
        or not ipaddress.ip_address(request.remote_addr or "0.0.0.0").is_loopback  # noqa: S104
    ):
        raise NotFound(N_("There is no mailbox here."))
    return MailboxFolder(settings.mailbox_dir)


def _mail_file(mail_id) -> bytes:
    raw = _mailbox_folder().raw(mail_id)
    if raw is None:
        raise NotFound(N_("No such mail."))
    return raw


def _readable_html(message: EmailMessage) -> str:
    """The message's HTML with its cid: images as data: URIs, so a browser shows it."""
    images = {
        part["Content-ID"].strip("<>"): (
            f"data:{part.get_content_type()};base64,"
            + base64.b64encode(part.get_content()).decode()
        )
        for part in message.walk()
        if part["Content-ID"]
    }
    html = message.get_body(preferencelist=("html",)).get_content()
    return re.sub(r"cid:([^\"'\s>]+)", lambda match: images.get(match[1], match[0]), html)
