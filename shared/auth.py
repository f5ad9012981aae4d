"""Bearer tokens and roles.

Tokens are stored as SHA-256 digests; a leaked database does not leak usable tokens. Every
service keeps its own token table (it owns its data); the organiser bootstrap token is
ensured in each at start, and staff tokens live where they are used (check-in).
"""

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Column, DateTime, MetaData, String, Table, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

# The bootstrap token's role: the instance's administrator, and the owner of its own
# organisation's events.
ORGANISER = "organiser"
# A door device paired to one event.
STAFF = "staff"
# A member's role in an organisation (DESIGN.md, "Organisers and their teams").
OWNER, MANAGER, DOOR, VIEWER = "owner", "manager", "door", "viewer"
MEMBER_ROLES = (OWNER, MANAGER, DOOR, VIEWER)

# What a route needs, as the roles that have it.
READ = frozenset({ORGANISER, OWNER, MANAGER, DOOR, VIEWER})
MANAGE = frozenset({ORGANISER, OWNER, MANAGER})  # events, registrations, tickets, keys
# Registrations with their personal data, and every export: never the door.
ATTENDEES = frozenset({ORGANISER, OWNER, MANAGER, VIEWER})
DOORS = frozenset({ORGANISER, OWNER, MANAGER, DOOR})  # check-in lists, devices, dashboard
SCAN = DOORS | {STAFF}  # scans and the door's search
TEAM = frozenset({ORGANISER, OWNER, MANAGER})  # members and invitations
INSTANCE = frozenset({ORGANISER})  # organisations

DEFAULT_ORGANISATION = "default"


@dataclass(frozen=True)
class Principal:
    role: str
    organisation_id: str
    # A door device's one event.
    event_id: str | None = None
    # Which credential this is (its token's digest): what a door device's scan ids are
    # unique within. Empty for principals made in code rather than read from a token.
    subject: str = ""
    # The events a member is limited to; None: every event of the organisation.
    event_ids: frozenset[str] | None = None
    # The member this principal signed in as, if it is a member.
    member_id: str | None = None
    # Whether it came from a member's personal API token, whose last use the member sees.
    personal_token: bool = False

    def may_open(self, organisation_id: str, event_id: str) -> bool:
        """Whether this event (of `organisation_id`) is one this principal may work on."""
        return (
            organisation_id == self.organisation_id
            and (self.event_id is None or event_id == self.event_id)
            and (self.event_ids is None or event_id in self.event_ids)
        )


def limited_to(event_id_column, principal: Principal):
    """A WHERE clause keeping the events `principal` may open among those of its
    organisation (the organisation is the caller's own clause)."""
    if principal.event_id is not None:
        return event_id_column == principal.event_id
    if principal.event_ids is not None:
        return event_id_column.in_(sorted(principal.event_ids))
    return true()


def define_token_table(metadata: MetaData) -> Table:
    return Table(
        "api_tokens",
        metadata,
        Column("token_sha256", String(64), primary_key=True),
        Column("role", String(16), nullable=False),
        Column("organisation_id", String(64), nullable=False),
        Column("event_id", String(36), nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("revoked_at", DateTime(timezone=True), nullable=True),
    )


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def ensure_token(session: Session, table: Table, token: str, principal: Principal) -> None:
    digest = token_digest(token)
    if session.scalar(select(table.c.token_sha256).where(table.c.token_sha256 == digest)):
        return
    try:
        store_token(session, table, token, principal)
        session.commit()
    except IntegrityError:
        # Another process of the same service ensured it at the same moment.
        session.rollback()


def store_token(session: Session, table: Table, token: str, principal: Principal) -> None:
    """Add the token's digest in the caller's transaction (it commits)."""
    session.execute(
        table.insert().values(
            token_sha256=token_digest(token),
            role=principal.role,
            organisation_id=principal.organisation_id,
            event_id=principal.event_id,
            created_at=datetime.now(UTC),
        )
    )


def revoke_token(session: Session, table: Table, digest: str) -> None:
    """Refuse the token from now on, in the caller's transaction (it commits)."""
    session.execute(
        table.update()
        .where(table.c.token_sha256 == digest, table.c.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )


def authenticate(session: Session, table: Table, token: str) -> Principal | None:
    row = session.execute(
        select(table).where(
            table.c.token_sha256 == token_digest(token), table.c.revoked_at.is_(None)
        )
    ).first()
    if row is None:
        return None
    return Principal(
        role=row.role,
        organisation_id=row.organisation_id,
        event_id=row.event_id,
        subject=row.token_sha256,
    )


class RecentTokens:
    """The principals of tokens that answered lately, so that a door scanning several times a
    second costs one token lookup every few seconds instead of one per scan.

    A token revoked through this process is refused at once (`forget_all`); one revoked
    through another process of the service is refused within `seconds`. Unknown tokens are
    never remembered, so a token made a moment ago in another process works at once.
    """

    def __init__(self, seconds: float = 5.0, clock: Callable[[], float] = time.monotonic):
        self._seconds = seconds
        self._clock = clock
        self._known: dict[str, tuple[Principal, float]] = {}
        self._lock = threading.Lock()

    def principal(self, token: str, look_up: Callable[[], Principal | None]) -> Principal | None:
        digest = token_digest(token)
        now = self._clock()
        known = self._known.get(digest)
        if known is not None and known[1] > now:
            return known[0]
        principal = look_up()
        with self._lock:
            if principal is None:
                self._known.pop(digest, None)
            else:
                self._drop_expired(now)
                self._known[digest] = (principal, now + self._seconds)
        return principal

    def forget_all(self) -> None:
        with self._lock:
            self._known.clear()

    def _drop_expired(self, now: float) -> None:
        # Bounded by the tokens used within `seconds`: door devices and organisers, not
        # attendees, so a sweep now and then is cheap.
        if len(self._known) > 1000:
            self._known = {d: entry for d, entry in self._known.items() if entry[1] > now}


def bootstrap_organiser_token(configured: str | None, data_dir: Path) -> str:
    """LOOPGATE_BOOTSTRAP_TOKEN if set, else a token made once and kept in the data dir."""
    if configured:
        return configured
    path = data_dir / "organiser-token"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    token = new_token()
    path.write_text(token + "\n")
    path.chmod(0o600)
    return token


def secrets_equal(expected: str, given: str | None) -> bool:
    """Constant-time comparison of a stored secret with one from a request, which may be
    missing or hold any characters (compare_digest refuses non-ASCII text)."""
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())
