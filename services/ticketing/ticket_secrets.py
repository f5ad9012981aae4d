"""What ticketing keeps secret, kept so that its database holds nothing usable.

- A signing key's private bytes are sealed with the instance's SecretBox, bound to the key id
  and its event: a copied database signs nothing, and sealed bytes moved to another key's
  row do not open.
- A ticket's URL key (the `?key=` of its QR image and page URLs) is an HMAC-SHA256 of the
  ticket id under a key derived from the key-encryption key: computed again whenever a URL
  is built, so only its SHA-256 digest is stored, which a request's key is checked against.
  A ticket issued before keys were derived keeps the digest of the random key its mail
  carried, and opens with that key or with its derived one (which its URLs carry now).
"""

import base64

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from services.ticketing.models import SigningKey, Ticket
from shared.auth import secrets_equal, token_digest
from shared.secret_box import SecretBox

URL_KEYS = "loopgate ticketing: ticket URL keys"


def seal_private_key(
    box: SecretBox, key_id: str, event_id: str, private_key: Ed25519PrivateKey
) -> bytes:
    raw = private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return box.seal(raw, signing_key_context(key_id, event_id))


def open_private_key(box: SecretBox, key: SigningKey) -> Ed25519PrivateKey:
    raw = box.open(key.sealed_private_key, signing_key_context(key.key_id, key.event_id))
    return Ed25519PrivateKey.from_private_bytes(raw)


def signing_key_context(key_id: str, event_id: str) -> str:
    return f"ticketing signing key {key_id} of event {event_id}"


def url_key(box: SecretBox, ticket_id: str) -> str:
    mac = hmac.HMAC(box.derived_key(URL_KEYS), hashes.SHA256())
    mac.update(ticket_id.encode())
    return base64.urlsafe_b64encode(mac.finalize()).rstrip(b"=").decode()


def opens_ticket(box: SecretBox, ticket: Ticket, key: str | None) -> bool:
    """Whether `key`, from a request, opens the ticket; compared in constant time."""
    return bool(key) and (
        secrets_equal(ticket.qr_key_sha256, token_digest(key))
        or secrets_equal(url_key(box, ticket.id), key)
    )
