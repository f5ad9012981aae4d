"""The mail someone gets when they ask for a new password, in the language they asked in,
holding the link that chooses it (link_mail.py makes the message)."""

from email.message import EmailMessage

from services.registration.mail.link_mail import (
    Letterhead,
    LinkMailText,
    link_mail,
    readable_utc_time,
    translations,
)
from services.registration.models import PasswordReset
from shared.languages import ENGLISH, locale_from_tag

# The organiser page that chooses the new password.
RESET_PAGE = "/organiser/password-resets/{token}"


def password_reset_mail(
    reset: PasswordReset, email: str, token: str, letterhead: Letterhead
) -> EmailMessage:
    """`token` is the link's key (account_links)."""
    locale = locale_from_tag(reset.language) or ENGLISH
    gettext = translations(locale).gettext
    text = LinkMailText(
        lang=locale.replace("_", "-"),
        subject=gettext("Choose a new Loopgate password"),
        heading=gettext("Someone asked for a new password for %(email)s on Loopgate.")
        % {"email": email},
        body=gettext(
            "Choosing one signs you out everywhere: every browser and tablet signs in again."
        ),
        open_link=gettext("Open this link to choose a new password:"),
        button=gettext("Choose a new password"),
        link_url=letterhead.public_url + RESET_PAGE.format(token=token),
        validity=gettext("The link is valid until %(expires)s (UTC) and can be used once.")
        % {"expires": readable_utc_time(reset.expires_at, locale)},
        why=gettext(
            "You receive this mail because someone asked for a new password for this address. "
            "If it was not you, ignore it: your password stays as it is."
        ),
    )
    return link_mail(email, text, letterhead)
