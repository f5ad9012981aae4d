"""Organisers signed in to the organiser pages.

Signing in with the organiser token starts a session: the browser's cookie holds a random
session id, never the token, and the database only the id's digest, so neither a stolen
cookie outlives the session nor a copied database opens one. A session ends at sign-out, at
its expiry, or when its organiser token is revoked.
"""

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from services.registration.models import OrganiserSession, tables
from shared.auth import ORGANISER, Principal, authenticate, new_token, token_digest
from shared.db import Transaction

# A working day at the venue; the next one starts with signing in again.
LIFETIME = timedelta(hours=12)


def start(tx: Transaction, organiser_token: str) -> str | None:
    """A new session id for the organiser token, or None if it is no organiser's."""
    session = tx.session
    principal = authenticate(session, tables.tokens, organiser_token)
    if principal is None or principal.role != ORGANISER:
        return None
    now = datetime.now(UTC)
    # The expired ones go as new ones come, so the table holds the live sessions only.
    session.execute(delete(OrganiserSession).where(OrganiserSession.expires_at <= now))
    session_id = new_token()
    session.add(
        OrganiserSession(
            id_sha256=token_digest(session_id),
            token_sha256=token_digest(organiser_token),
            created_at=now,
            expires_at=now + LIFETIME,
        )
    )
    return session_id


def organiser(session: Session, session_id: str) -> Principal | None:
    """Who is signed in with this session id, if it is live and its token still valid."""
    tokens = tables.tokens
    row = session.execute(
        select(tokens.c.role, tokens.c.organisation_id)
        .join(OrganiserSession, OrganiserSession.token_sha256 == tokens.c.token_sha256)
        .where(
            OrganiserSession.id_sha256 == token_digest(session_id),
            OrganiserSession.expires_at > datetime.now(UTC),
            tokens.c.revoked_at.is_(None),
            tokens.c.role == ORGANISER,
        )
    ).first()
    return Principal(role=row.role, organisation_id=row.organisation_id) if row else None


def end(tx: Transaction, session_id: str) -> None:
    tx.session.execute(
        delete(OrganiserSession).where(OrganiserSession.id_sha256 == token_digest(session_id))
    )
