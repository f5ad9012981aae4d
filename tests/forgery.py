"""What an attacker who copied ticketing's database and its key-encryption key holds (every
event's private signing key), and the codes they would sign with it."""

from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.ticketing.models import SigningKey
from services.ticketing.ticket_secrets import open_private_key
from shared.tokens import read_ticket, sign_ticket


def leaked_key(ticketing, event_id: str) -> tuple[str, Ed25519PrivateKey]:
    """The event's signing key, from ticketing's database (`ticketing`: anything with an
    `engine` and a `secret_box`, such as a ServiceRuntime)."""
    with Session(ticketing.engine) as session:
        key = session.scalars(select(SigningKey).where(SigningKey.event_id == event_id)).one()
        return key.key_id, open_private_key(ticketing.secret_box, key)


def forged_with(key: tuple[str, Ed25519PrivateKey], genuine_payload: str) -> str:
    """A genuine ticket's claims, re-signed with `key` and a window of two years."""
    key_id, private_key = key
    claims = read_ticket(genuine_payload).claims
    forged = type(claims)(
        key_id=key_id,
        event_id=claims.event_id,
        ticket_id=claims.ticket_id,
        ticket_type_id=claims.ticket_type_id,
        valid_from=datetime(2026, 1, 1, tzinfo=UTC),
        valid_until=datetime(2027, 12, 31, tzinfo=UTC),
    )
    return sign_ticket(forged, private_key)
