"""The keys of the links mailed to team members (an invitation, a password reset).

A link's key is an HMAC of the row's id under a key the secret box derives for the purpose:
the mail relay can make the link again at send time, and neither the database nor the mail
outbox keeps anything that opens it. `<id>.<mac>` lets a request find its row by id and
check the MAC in constant time.
"""

import base64
import hashlib
import hmac

from shared.auth import secrets_equal
from shared.secret_box import SecretBox

INVITATION = "registration invitation links"
PASSWORD_RESET = "registration password reset links"  # noqa: S105 (a purpose, not a secret)


def link_token(box: SecretBox, purpose: str, row_id: str) -> str:
    mac = hmac.new(box.derived_key(purpose), row_id.encode(), hashlib.sha256).digest()
    return f"{row_id}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def row_id_of(box: SecretBox, purpose: str, token: str) -> str | None:
    """The id a link's token was made for, if the token is genuine."""
    row_id, _, _mac = token.partition(".")
    if not row_id or len(token) > 200 or not secrets_equal(link_token(box, purpose, row_id), token):
        return None
    return row_id
