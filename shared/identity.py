"""Who a member of an organisation is, in every service: signed access tokens, and the
copies of memberships that keep them honest.

Registration owns people, organisations and memberships (DESIGN.md). When a member signs in,
or makes a personal API token, registration signs an access token with its identity key:
`lg1.<claims>.<signature>`, the claims being JSON (key id, token id, member, organisation,
role, the events the member is limited to, when it was issued, when it expires) and the
signature Ed25519 over them. Every service verifies it with registration's public key, which
reaches ticketing and check-in on the bus (identity.key_published), so no service asks
another anything on a request, and a token works on all three the moment it is made.

What changes after a token was signed reaches every service as events, and each keeps a copy
(the tables below): member.changed (role, event limit, removed, signed out everywhere at) and
access_token.revoked. The copy wins over the claims: a role changed or a member removed
takes effect as soon as the event is consumed (well under the 10 seconds DESIGN.md allows;
principals are remembered for RecentTokens' 5 seconds), without the member signing in again.

The other way, a service that admits a personal API token says so (access_token.used, at
most once a minute per token and process), so registration can show the member when each of
their tokens was last used.
"""

import base64
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    select,
)
from sqlalchemy.orm import Session

from shared.auth import MEMBER_ROLES, Principal

PREFIX = "lg1."
SESSION, PERSONAL = "session", "personal"


@dataclass(frozen=True)
class IdentityTables:
    keys: Table
    members: Table
    revoked_tokens: Table


def define_identity_tables(metadata: MetaData) -> IdentityTables:
    return IdentityTables(
        keys=Table(
            "identity_keys",
            metadata,
            Column("key_id", String(32), primary_key=True),
            Column("public_key", Text, nullable=False),
            Column("published_at", DateTime(timezone=True), nullable=False),
        ),
        members=Table(
            "member_copies",
            metadata,
            Column("member_id", String(36), primary_key=True),
            Column("organisation_id", String(64), nullable=False),
            Column("role", String(16), nullable=False),
            Column("event_ids", JSON, nullable=True),
            Column("removed", Boolean, nullable=False),
            Column("signed_out_at", DateTime(timezone=True), nullable=True),
            Column("version", Integer, nullable=False),
        ),
        revoked_tokens=Table(
            "revoked_access_tokens",
            metadata,
            Column("token_id", String(32), primary_key=True),
            Column("revoked_at", DateTime(timezone=True), nullable=False),
        ),
    )


@dataclass(frozen=True)
class AccessClaims:
    token_id: str
    member_id: str
    organisation_id: str
    role: str
    event_ids: tuple[str, ...] | None
    issued_at: datetime
    expires_at: datetime | None
    kind: str = SESSION


# --- signing (registration) ---------------------------------------------------------------


def new_identity_key() -> tuple[str, Ed25519PrivateKey]:
    return secrets.token_hex(8), Ed25519PrivateKey.generate()


def public_key_text(private_key: Ed25519PrivateKey) -> str:
    raw = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return _b64(raw)


def new_token_id() -> str:
    return secrets.token_hex(16)


def sign_access_token(key_id: str, private_key: Ed25519PrivateKey, claims: AccessClaims) -> str:
    body = {
        "kid": key_id,
        "tid": claims.token_id,
        "mid": claims.member_id,
        "org": claims.organisation_id,
        "role": claims.role,
        "events": list(claims.event_ids) if claims.event_ids is not None else None,
        # In milliseconds: a sign-in a moment after signing out everywhere must be later.
        "iat": int(claims.issued_at.timestamp() * 1000),
        "exp": int(claims.expires_at.timestamp()) if claims.expires_at else None,
        "kind": claims.kind,
    }
    payload = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
    signature = _b64(private_key.sign(payload.encode()))
    return f"{PREFIX}{payload}.{signature}"


# --- verifying (every service) ------------------------------------------------------------


def is_access_token(token: str) -> bool:
    return token.startswith(PREFIX)


def read_access_token(
    session: Session, tables: IdentityTables, token: str, now: datetime | None = None
) -> Principal | None:
    """The principal of a valid access token as this service's copies see it now, or None
    (a bad signature, an unknown key, expired, revoked, a removed member, signed out)."""
    claims = _verified_claims(session, tables, token)
    now = now or datetime.now(UTC)
    if claims is None or (claims.expires_at is not None and claims.expires_at <= now):
        return None
    revoked = session.scalar(
        select(tables.revoked_tokens.c.token_id).where(
            tables.revoked_tokens.c.token_id == claims.token_id
        )
    )
    if revoked is not None:
        return None
    member = session.execute(
        select(tables.members).where(tables.members.c.member_id == claims.member_id)
    ).first()
    role, event_ids = claims.role, claims.event_ids
    if member is not None:
        if member.removed or member.organisation_id != claims.organisation_id:
            return None
        if (
            claims.kind == SESSION
            and member.signed_out_at is not None
            and claims.issued_at <= _aware(member.signed_out_at)
        ):
            return None
        role, event_ids = member.role, member.event_ids
    return Principal(
        role=role,
        organisation_id=claims.organisation_id,
        subject=claims.token_id,
        event_ids=frozenset(event_ids) if event_ids is not None else None,
        member_id=claims.member_id,
        personal_token=claims.kind == PERSONAL,
    )


def _verified_claims(session: Session, tables: IdentityTables, token: str) -> AccessClaims | None:
    try:
        payload, signature = token.removeprefix(PREFIX).split(".")
        body = json.loads(_unb64(payload))
        public_key_row = session.scalar(
            select(tables.keys.c.public_key).where(tables.keys.c.key_id == str(body["kid"]))
        )
        if public_key_row is None:
            return None
        public_key = Ed25519PublicKey.from_public_bytes(_unb64(public_key_row))
        public_key.verify(_unb64(signature), payload.encode())
        if body["role"] not in MEMBER_ROLES:
            return None
        events = body["events"]
        return AccessClaims(
            token_id=str(body["tid"]),
            member_id=str(body["mid"]),
            organisation_id=str(body["org"]),
            role=body["role"],
            event_ids=tuple(str(e) for e in events) if events is not None else None,
            issued_at=datetime.fromtimestamp(int(body["iat"]) / 1000, UTC),
            expires_at=datetime.fromtimestamp(int(body["exp"]), UTC) if body["exp"] else None,
            kind=body.get("kind", SESSION),
        )
    except (ValueError, KeyError, TypeError, InvalidSignature, OverflowError):
        return None


# --- personal tokens' last use (every service) -------------------------------------------


class PersonalTokenUses:
    """When this process last announced each personal token's use: a script calling many
    times a second costs one event a minute, which is all "last used" needs."""

    EVERY_SECONDS = 60.0

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._announced: dict[str, float] = {}
        self._lock = threading.Lock()

    def due(self, token_id: str) -> bool:
        """Whether this use is to be announced (and, if so, it counts as announced now)."""
        now = self._clock()
        with self._lock:
            if now - self._announced.get(token_id, -self.EVERY_SECONDS) < self.EVERY_SECONDS:
                return False
            if len(self._announced) > 10_000:  # bounded by the tokens seen within a minute
                self._announced = {
                    token: at
                    for token, at in self._announced.items()
                    if now - at < self.EVERY_SECONDS
                }
            self._announced[token_id] = now
            return True


def announce_token_use(tx, principal: Principal) -> None:
    tx.publish(
        "access_token.used",
        {
            "token_id": principal.subject,
            "member_id": principal.member_id,
            "used_at": datetime.now(UTC),
        },
    )


# --- the copies, kept from the bus (and by registration in its own transactions) ---------


def record_identity_key(session: Session, tables: IdentityTables, data: dict) -> None:
    exists = session.scalar(
        select(tables.keys.c.key_id).where(tables.keys.c.key_id == data["key_id"])
    )
    if exists is None:
        session.execute(
            tables.keys.insert().values(
                key_id=data["key_id"],
                public_key=data["public_key"],
                published_at=datetime.now(UTC),
            )
        )


def record_member(session: Session, tables: IdentityTables, data: dict) -> None:
    """Keep the newest state of a membership (an older event arriving late changes nothing)."""
    members = tables.members
    values = {
        "organisation_id": data["organisation_id"],
        "role": data["role"],
        "event_ids": list(data["event_ids"]) if data.get("event_ids") is not None else None,
        "removed": bool(data["removed"]),
        "signed_out_at": data.get("signed_out_at"),
        "version": int(data["version"]),
    }
    known = session.scalar(
        select(members.c.version).where(members.c.member_id == data["member_id"])
    )
    if known is None:
        session.execute(members.insert().values(member_id=data["member_id"], **values))
    elif known < values["version"]:
        session.execute(
            members.update().where(members.c.member_id == data["member_id"]).values(**values)
        )


def record_revoked_token(session: Session, tables: IdentityTables, data: dict) -> None:
    revoked = tables.revoked_tokens
    exists = session.scalar(
        select(revoked.c.token_id).where(revoked.c.token_id == data["token_id"])
    )
    if exists is None:
        session.execute(
            revoked.insert().values(token_id=data["token_id"], revoked_at=datetime.now(UTC))
        )


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes for timezone-aware columns; they are UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def identity_handlers(tables: IdentityTables) -> dict:
    """The consumers that keep ticketing's and check-in's copies: one per event type, for a
    service's HANDLERS (registration writes its own copies as it changes them)."""

    def on_key(tx, data: dict) -> None:
        record_identity_key(tx.session, tables, data)

    def on_member(tx, data: dict) -> None:
        event_ids = data.get("event_ids")
        record_member(
            tx.session,
            tables,
            {
                **data,
                "member_id": str(data["member_id"]),
                "event_ids": [str(e) for e in event_ids] if event_ids is not None else None,
            },
        )

    def on_revoked(tx, data: dict) -> None:
        record_revoked_token(tx.session, tables, data)

    return {
        "identity.key_published": on_key,
        "member.changed": on_member,
        "access_token.revoked": on_revoked,
    }
