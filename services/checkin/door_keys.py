"""The signing keys the door trusts (scan_records.DoorKey): each for codes of its own event
only, and none once retired, read from the roster's public keys and kept a second per
process. No Flask, no broker."""

import time
from collections.abc import Iterable
from weakref import WeakKeyDictionary

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from services.checkin.models import PublicKey
from services.checkin.scan_records import DoorKey
from shared.tokens import load_public_key

# A retirement recorded through another process reaches this one within this time: a key not
# retired when read is read again after it. A retired key never comes back, so it is kept.
KEY_RECHECK_SECONDS = 1.0

# Keys by database and key id, with when each was read (time.monotonic). An unknown id is
# asked for each time, as its key may arrive with the next ticket.issued.
_KNOWN_KEYS: "WeakKeyDictionary[Engine, dict[str, tuple[DoorKey, float]]]" = WeakKeyDictionary()

_KEYS = PublicKey.__table__
_KEYS_BY_ID = select(
    _KEYS.c.key_id, _KEYS.c.event_id, _KEYS.c.public_key, _KEYS.c.retired_at
).where(_KEYS.c.key_id.in_(bindparam("ids", expanding=True)))


def forget_key(session: Session, key_id: str) -> None:
    """Read the key afresh at the next scan in this process (its retirement is being
    recorded): other processes notice within KEY_RECHECK_SECONDS."""
    _KNOWN_KEYS.get(session.get_bind(), {}).pop(key_id, None)


def door_keys(session: Session, key_ids: Iterable[str]) -> dict[str, DoorKey]:
    """The keys of `key_ids` the roster holds, by key id: those read within the last
    KEY_RECHECK_SECONDS (or retired) from memory, the others in one query."""
    known = _KNOWN_KEYS.setdefault(session.get_bind(), {})
    now = time.monotonic()
    keys, stale = {}, []
    for key_id in dict.fromkeys(key_ids):
        seen = known.get(key_id)
        if seen is not None and (seen[0].retired or now - seen[1] < KEY_RECHECK_SECONDS):
            keys[key_id] = seen[0]
        else:
            stale.append(key_id)
    if stale:
        for row in session.connection().execute(_KEYS_BY_ID, {"ids": stale}):
            key = DoorKey(
                event_id=row.event_id,
                public_key=load_public_key(row.public_key) if row.public_key else None,
                retired=row.retired_at is not None,
            )
            known[row.key_id] = (key, now)
            keys[row.key_id] = key
    return keys
