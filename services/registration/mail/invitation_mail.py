"""The mail someone gets when they are invited to an organisation's team, in the language of
the invitation (the inviter's), holding the link that accepts the invitation (link_mail.py
makes the message)."""

from email.message import EmailMessage

from services.registration.mail.link_mail import (
    Letterhead,
    LinkMailText,
    link_mail,
    readable_utc_time,
    translations,
)
from services.registration.models import Invitation
from shared.auth import DOOR, MANAGER, OWNER, VIEWER
from shared.errors import N_
from shared.languages import ENGLISH, locale_from_tag

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


def invitation_url(public_url: str, token: str) -> str:
    return public_url + INVITATION_PATH.format(token=token)


def invitation_mail(
    invitation: Invitation, organisation_name: str, token: str, letterhead: Letterhead
) -> EmailMessage:
    """`token` is the link's key (account_links)."""
    text = invitation_text(invitation, organisation_name, token, letterhead.public_url)
    return link_mail(invitation.email, text, letterhead)


def invitation_text(
    invitation: Invitation, organisation_name: str, token: str, public_url: str
) -> LinkMailText:
    locale = locale_from_tag(invitation.language) or ENGLISH
    gettext = translations(locale).gettext
    names = {"organisation": organisation_name, "inviter": invitation.invited_by}
    if invitation.invited_by:
        invited = gettext("%(inviter)s invited you to join %(organisation)s on Loopgate.")
    else:  # invited by no one in particular: the owner of an organisation just made
        invited = gettext("You are invited to join %(organisation)s on Loopgate.")
    return LinkMailText(
        lang=locale.replace("_", "-"),
        subject=gettext("You are invited to join %(organisation)s on Loopgate") % names,
        heading=invited % names,
        body=gettext(ROLE_SENTENCES[invitation.role]),
        open_link=gettext("Open this link to accept the invitation:"),
        button=gettext("Accept the invitation"),
        link_url=invitation_url(public_url, token),
        validity=gettext("The link is valid until %(expires)s (UTC) and can be used once.")
        % {"expires": readable_utc_time(invitation.expires_at, locale)},
        why=gettext(
            "You receive this mail because someone invited this address to a team on "
            "Loopgate. If you did not expect it, you can ignore it."
        ),
    )
