"""What an attendee's name and email address must be: text a page, a CSV and a mail header
can carry, and an address a mail can be delivered to. A mail to `a@localhost` or with a line
break in its header fails, and is retried for a day for nothing."""

import unicodedata

from email_validator import EmailNotValidError, validate_email

NAME_LIMIT = 200
EMAIL_LIMIT = 320

# Control and format characters (CR, LF, tab, NUL, bidi overrides...), lone surrogates, and
# the line and paragraph separators.
_UNPRINTABLE = {"Cc", "Cf", "Cs", "Zl", "Zp"}


class NotAcceptable(ValueError):
    """Why a name or address is refused."""


def printable_name(text: str) -> str:
    """The name trimmed; refused when empty, too long or not printable."""
    name = text.strip()
    if not name:
        raise NotAcceptable("Enter a name.")
    if len(name) > NAME_LIMIT:
        raise NotAcceptable(f"At most {NAME_LIMIT} characters.")
    if any(unicodedata.category(character) in _UNPRINTABLE for character in name):
        raise NotAcceptable("Only printable characters: no line breaks, tabs or control codes.")
    return name


def deliverable_email(text: str) -> str:
    """The address as mail is sent to it (the domain in lower case); refused unless it is
    deliverable syntax at a public domain: no special-use or local domain (localhost, .local,
    .test...), no IP address in brackets, no quoted local part, no `%` (old source routing,
    which relays the mail on to another host). Its domain is not looked up (no DNS here)."""
    if len(text) > EMAIL_LIMIT:
        raise NotAcceptable(f"At most {EMAIL_LIMIT} characters.")
    try:
        address = validate_email(
            text.strip(),
            check_deliverability=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
            allow_display_name=False,
        )
    except EmailNotValidError as error:
        raise NotAcceptable(str(error)) from None
    if "%" in address.local_part:
        raise NotAcceptable("The part before the @-sign cannot contain %.")
    return address.normalized
