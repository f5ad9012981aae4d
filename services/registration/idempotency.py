"""Idempotency keys, scoped as Stripe scopes them: a key names one request of one client.

A registration made with an `Idempotency-Key` is remembered under its event, the client's
address and the key, with a fingerprint of the request as parsed. The same client sending the
same request again gets the same registration and its manage token (kept sealed with the
instance's secret box, so that a client that lost the answer still gets its link); the same
key with another request is refused and tells nothing of the first; the same key from another
address is that client's own key. A record is kept at least a day, and goes with its
registration's personal data when that is erased.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from services.registration.models import IdempotencyRecord
from services.registration.wording import N_
from shared.db import Transaction
from shared.errors import InvalidRequest
from shared.secret_box import SecretBox

KEPT_FOR = timedelta(hours=24)

_RECORDS = IdempotencyRecord.__table__
_INSERT_RECORD = _RECORDS.insert()


class IdempotencyKeyReused(InvalidRequest):
    slug = "idempotency-key-reused"


@dataclass(frozen=True)
class Idempotency:
    """A request's Idempotency-Key, the address of the client that sent it, and what seals
    the manage token kept for a repeat."""

    key: str
    client_address: str
    secret_box: SecretBox


def fingerprint(request: dict) -> str:
    """SHA-256 of a request as parsed: the same fields with the same values, in any order,
    give the same fingerprint."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def remember(
    session: Session,
    event_id: str,
    idempotency: Idempotency,
    request_sha256: str,
    registration_id: str,
    manage_token: str,
    now: datetime,
) -> None:
    """Record the request in the caller's transaction; a record of the same key from the
    same client, made meanwhile, makes it fail with an IntegrityError."""
    session.connection().execute(
        _INSERT_RECORD,
        {
            "event_id": event_id,
            "client_address": idempotency.client_address,
            "key": idempotency.key,
            "request_sha256": request_sha256,
            "registration_id": registration_id,
            "sealed_manage_token": idempotency.secret_box.seal(
                manage_token.encode(), _sealed_as(registration_id)
            ),
            "created_at": now,
        },
    )


def answered_before(
    session: Session, event_id: str, idempotency: Idempotency, request_sha256: str
) -> tuple[str, str]:
    """The id and manage token of the registration the same request made before; another
    request under the same key is refused."""
    record = session.get(IdempotencyRecord, (event_id, idempotency.client_address, idempotency.key))
    if record.request_sha256 != request_sha256:
        # Worded for the form too, whose hidden key a browser's Back button sends again.
        raise IdempotencyKeyReused(
            N_(
                "This was already sent once with other details: open the form again, or send "
                "the request with a new Idempotency-Key."
            )
        )
    sealed_as = _sealed_as(record.registration_id)
    manage_token = idempotency.secret_box.open(record.sealed_manage_token, sealed_as).decode()
    return record.registration_id, manage_token


def forget_registration(session: Session, registration_id: str) -> None:
    session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.registration_id == registration_id)
    )


def forget_event(session: Session, event_id: str) -> None:
    session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.event_id == event_id))


def forget_expired(tx: Transaction, now: datetime | None = None) -> int:
    """Forget the requests made over a day ago (the worker's periodic task); how many."""
    now = now or datetime.now(UTC)
    return tx.session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at <= now - KEPT_FOR)
    ).rowcount


def _sealed_as(registration_id: str) -> str:
    # Bound to its registration: a sealed token copied into another record does not open.
    return f"manage token of registration {registration_id}"
