"""The attendee's manage link in the mails sent about their registration.

Only a digest of the manage token opens a registration (registrations.attendee_registration),
so the token is also kept sealed with the instance's secret box, bound to its registration:
the mail relay, at send time, opens it to put the link in a mail (a place offered days
later), while a copied database or backup opens nothing. An erasure drops it.
"""

from urllib.parse import urlencode

from shared.secret_box import SecretBox, SecretBoxError

# The attendee's manage page (pages.manage), as the public URL sees it.
MANAGE_PAGE_PATH = "/registrations/{registration_id}"


def seal_manage_token(box: SecretBox | None, registration_id: str, token: str) -> bytes | None:
    """None without a secret box (a transaction opened without one keeps no token)."""
    if box is None:
        return None
    return box.seal(token.encode(), _sealed_as(registration_id))


def manage_url(
    box: SecretBox | None,
    public_url: str,
    registration_id: str,
    sealed_token: bytes | None,
    locale: str,
) -> str | None:
    """The attendee's manage page, in their language; None when the token is not at hand: a
    registration made before tokens were kept sealed, or one sealed under another
    key-encryption key (the mail goes without the link rather than not at all)."""
    if box is None or sealed_token is None:
        return None
    try:
        token = box.open(sealed_token, _sealed_as(registration_id)).decode()
    except SecretBoxError:
        return None
    query = urlencode({"token": token, "lang": locale})
    return f"{public_url}{MANAGE_PAGE_PATH.format(registration_id=registration_id)}?{query}"


def _sealed_as(registration_id: str) -> str:
    # Bound to its registration and to this use: copied into another row it does not open.
    return f"manage token of registration {registration_id}, for its mails"
