"""The mail someone gets when they are invited to an organisation's team, in the language of
the invitation (the inviter's): plain text and an HTML alternative, holding the link that
accepts the invitation.

Mail is written in the worker, outside any web request, so it reads registration's message
catalogue itself (Babel's Translations) rather than through Flask-Babel. Its texts are in
this module, where `make translations` finds them (registration's babel.cfg extracts Python
and HTML templates); the HTML part is a template of this package's (templates/, package
data like the pages'), with nothing to translate in it, that escapes every text it is given.
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

from services.registration.models import Invitation
from shared.auth import DOOR, MANAGER, OWNER, VIEWER
from shared.errors import N_
from shared.languages import ENGLISH, locale_from_tag

TRANSLATIONS_DIR = Path(__file__).parents[1] / "translations"
# The organiser page that accepts an invitation; DESIGN.md fixes the path's end.
INVITATION_PATH = "/organiser/invitations/{token}"

# A role in plain words (DESIGN.md, "Organisers and their teams"), a whole sentence each so
# that every language words it its own way. A role missing here fails the mail, which is
# retried: a newer worker (a deploy under way) may know it.
ROLE_SENTENCES = {
    OWNER: N_("As an owner, you run everything, the team included."),
    MANAGER: N_("As a manager, you run the events, their registrations and the doors."),
    DOOR: N_("As door staff, you check people in at the doors."),
    VIEWER: N_("As a viewer, you can see everything but change nothing."),
}


@dataclass(frozen=True)
class Letterhead:
    """What every invitation mail needs besides the invitation: from settings."""

    sender: str
    public_url: str


@dataclass(frozen=True)
class InvitationText:
    """The mail's texts, translated, shared by its plain and HTML parts."""

    lang: str
    subject: str
    invited: str
    role: str
    open_link: str
    accept: str
    link_url: str
    validity: str
    why: str


def invitation_url(public_url: str, token: str) -> str:
    return public_url + INVITATION_PATH.format(token=token)


def invitation_mail(
    invitation: Invitation, organisation_name: str, token: str, letterhead: Letterhead
) -> EmailMessage:
    """The message, but for its Message-ID and Date, which the mail relay stamps on each
    attempt (shared/mail/relay.py). `token` is the link's key (account_links)."""
    text = invitation_text(invitation, organisation_name, token, letterhead.public_url)
    message = EmailMessage()
    message["Subject"] = text.subject
    message["From"] = letterhead.sender
    message["To"] = invitation.email
    message.set_content(plain_text(text))
    message.add_alternative(_html_template().render(text=text), subtype="html")
    # After the parts: making the message multipart moves the Content-* headers into its
    # first part.
    message["Content-Language"] = text.lang
    return message


def invitation_text(
    invitation: Invitation, organisation_name: str, token: str, public_url: str
) -> InvitationText:
    locale = locale_from_tag(invitation.language) or ENGLISH
    gettext = _translations(locale).gettext
    names = {"organisation": organisation_name, "inviter": invitation.invited_by}
    if invitation.invited_by:
        invited = gettext("%(inviter)s invited you to join %(organisation)s on Loopgate.")
    else:  # invited by no one in particular: the owner of an organisation just made
        invited = gettext("You are invited to join %(organisation)s on Loopgate.")
    return InvitationText(
        lang=locale.replace("_", "-"),
        subject=gettext("You are invited to join %(organisation)s on Loopgate") % names,
        invited=invited % names,
        role=gettext(ROLE_SENTENCES[invitation.role]),
        open_link=gettext("Open this link to accept the invitation:"),
        accept=gettext("Accept the invitation"),
        link_url=invitation_url(public_url, token),
        validity=gettext("The link is valid until %(expires)s (UTC) and can be used once.")
        % {"expires": readable_utc_time(invitation.expires_at, locale)},
        why=gettext(
            "You receive this mail because someone invited this address to a team on "
            "Loopgate. If you did not expect it, you can ignore it."
        ),
    )


def readable_utc_time(moment: datetime, locale: str) -> str:
    """ "June 14, 2030, 6:05 PM", "2030年6月14日 下午6:05": the day and the time in UTC,
    joined as the language joins them."""
    moment = moment.astimezone(UTC)
    day = format_date(moment, "long", locale=locale)
    time = format_time(moment, "short", tzinfo=UTC, locale=locale)
    pattern = str(Locale.parse(locale).datetime_formats["medium"])
    return pattern.replace("{1}", day).replace("{0}", time)


def plain_text(text: InvitationText) -> str:
    paragraphs = [
        text.invited,
        text.role,
        f"{text.open_link}\n{text.link_url}",
        text.validity,
        "--",
        text.why,
    ]
    return "\n\n".join(paragraphs) + "\n"


@cache
def _translations(locale: str) -> Translations:
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
    return environment.get_template("invitation.html")
