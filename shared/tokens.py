"""Ticket tokens: a compact binary payload signed with Ed25519, in QR alphanumeric mode.

    LG1:<base45(payload || signature)>

payload (60 bytes, big-endian): key id (4), event id (16), ticket id (16), ticket type id
(16), valid from and valid until (unix seconds, 4 each). The signature (64 bytes) covers the
format tag and the payload, so a token can be neither altered nor moved to another format.
Base45 (RFC 9285) uses only QR alphanumeric characters, so the 190-character token fits a
version 8 QR code at error correction M.
"""

import base64
import secrets
import struct
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

FORMAT_TAG = "LG1"
PREFIX = FORMAT_TAG + ":"
_PAYLOAD = struct.Struct(">4s16s16s16sII")
SIGNATURE_BYTES = 64
BASE45_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_BASE45_VALUES = {char: value for value, char in enumerate(BASE45_ALPHABET)}


class InvalidTicketToken(ValueError):
    """The token is unreadable, signed by an unknown key, or its signature does not match."""


class UnknownSigningKey(InvalidTicketToken):
    """A well-formed token naming a key this verifier has not received (yet)."""


@dataclass(frozen=True)
class TicketClaims:
    key_id: str
    event_id: uuid.UUID
    ticket_id: uuid.UUID
    ticket_type_id: uuid.UUID
    valid_from: datetime
    valid_until: datetime


def new_signing_key() -> tuple[str, Ed25519PrivateKey]:
    return secrets.token_hex(4), Ed25519PrivateKey.generate()


def public_key_text(key: Ed25519PublicKey) -> str:
    return base64.b64encode(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def load_public_key(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(text))


def sign_ticket(claims: TicketClaims, key: Ed25519PrivateKey) -> str:
    payload = _PAYLOAD.pack(
        bytes.fromhex(claims.key_id),
        claims.event_id.bytes,
        claims.ticket_id.bytes,
        claims.ticket_type_id.bytes,
        int(claims.valid_from.timestamp()),
        int(claims.valid_until.timestamp()),
    )
    signature = key.sign(FORMAT_TAG.encode() + payload)
    return PREFIX + base45_encode(payload + signature)


@dataclass(frozen=True)
class ReadToken:
    """A token's claims as written in it, and what its signature covers: trusted only once
    `verify_read_ticket` has checked the signature (or the issuer's digest of the token has
    vouched for it)."""

    claims: TicketClaims
    signed: bytes
    signature: bytes


def read_ticket(token: str) -> ReadToken:
    """The claims a token states, unverified; InvalidTicketToken if it cannot be read."""
    if not isinstance(token, str) or not token.startswith(PREFIX):
        raise InvalidTicketToken("not a Loopgate ticket")
    try:
        raw = base45_decode(token[len(PREFIX) :])
    except ValueError:
        raise InvalidTicketToken("unreadable") from None
    if len(raw) != _PAYLOAD.size + SIGNATURE_BYTES:
        raise InvalidTicketToken("wrong length")
    payload, signature = raw[: _PAYLOAD.size], raw[_PAYLOAD.size :]
    key_id, event_id, ticket_id, ticket_type_id, valid_from, valid_until = _PAYLOAD.unpack(payload)
    claims = TicketClaims(
        key_id=key_id.hex(),
        event_id=uuid.UUID(bytes=event_id),
        ticket_id=uuid.UUID(bytes=ticket_id),
        ticket_type_id=uuid.UUID(bytes=ticket_type_id),
        valid_from=datetime.fromtimestamp(valid_from, UTC),
        valid_until=datetime.fromtimestamp(valid_until, UTC),
    )
    return ReadToken(claims, FORMAT_TAG.encode() + payload, signature)


def verify_read_ticket(
    read: ReadToken, public_keys: Mapping[str, Ed25519PublicKey]
) -> TicketClaims:
    """The claims of a read token whose signature matches its key; InvalidTicketToken (or
    UnknownSigningKey) otherwise."""
    public_key = public_keys.get(read.claims.key_id)
    if public_key is None:
        raise UnknownSigningKey(f"signed by unknown key {read.claims.key_id}")
    try:
        public_key.verify(read.signature, read.signed)
    except InvalidSignature:
        raise InvalidTicketToken("bad signature") from None
    return read.claims


def verify_ticket(token: str, public_keys: Mapping[str, Ed25519PublicKey]) -> TicketClaims:
    """Return the claims of a genuine token; raise InvalidTicketToken for anything else."""
    return verify_read_ticket(read_ticket(token), public_keys)


def base45_encode(data: bytes) -> str:
    chars = []
    for index in range(0, len(data), 2):
        chunk = data[index : index + 2]
        value = int.from_bytes(chunk, "big")
        digits = 3 if len(chunk) == 2 else 2
        for _ in range(digits):
            value, remainder = divmod(value, 45)
            chars.append(BASE45_ALPHABET[remainder])
    return "".join(chars)


def base45_decode(text: str) -> bytes:
    # Every door scan decodes one: arithmetic on whole groups, not per-digit sums.
    if len(text) % 3 == 1:
        raise ValueError("base45 text has a dangling character")
    try:
        values = [_BASE45_VALUES[char] for char in text]
    except KeyError:
        raise ValueError("not a base45 character") from None
    whole = len(values) - len(values) % 3
    out = bytearray()
    for index in range(0, whole, 3):
        number = values[index] + values[index + 1] * 45 + values[index + 2] * 2025
        if number > 0xFFFF:
            raise ValueError("base45 group out of range")
        out += number.to_bytes(2, "big")
    if whole < len(values):
        number = values[whole] + values[whole + 1] * 45
        if number > 0xFF:
            raise ValueError("base45 group out of range")
        out.append(number)
    return bytes(out)
