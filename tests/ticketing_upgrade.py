"""A ticketing database as it was before its secrets were sealed (revision d58d11cc1695): a
plain private signing key, and a ticket whose QR key is stored as it is, and was mailed."""

import hashlib
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic import command
from alembic.config import Config
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine, text

from services.system import definition
from shared.auth import DEFAULT_ORGANISATION
from shared.secret_box import SecretBox
from shared.tokens import public_key_text

BEFORE = "d58d11cc1695"
DATABASE = "ticketing.db"  # in the data dir, as embedded mode names it


@dataclass(frozen=True)
class StoredBefore:
    event_id: str
    ticket_id: str
    registration_id: str
    key_id: str
    private_key: bytes
    mailed_key: str
    manage_token: str


def upgrade(data_dir: Path, revision: str, secret_box: SecretBox | None = None) -> None:
    """Migrate the data dir's ticketing database with Alembic, as shared.db.migrate does."""
    engine = create_engine(f"sqlite:///{data_dir / DATABASE}")
    config = Config()
    config.set_main_option("script_location", str(definition("ticketing").migrations_dir))
    try:
        with engine.begin() as connection:
            config.attributes.update(connection=connection, secret_box=secret_box)
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def database_from_before(data_dir: Path) -> StoredBefore:
    """The database, made in `data_dir`, with one event of the default organisation (starting
    tomorrow), its key and one valid ticket; checkpointed, as an old database would be."""
    upgrade(data_dir, BEFORE)
    private_key = Ed25519PrivateKey.generate()
    before = StoredBefore(
        event_id=str(uuid.uuid4()),
        ticket_id=str(uuid.uuid4()),
        registration_id=str(uuid.uuid4()),
        key_id="00c0ffee",
        private_key=private_key.private_bytes_raw(),
        mailed_key="a-qr-key-mailed-before-the-upgrade",
        manage_token="a-manage-token-of-before-the-upgrade",
    )
    starts_at = datetime.now(UTC) + timedelta(days=1)
    engine = create_engine(f"sqlite:///{data_dir / DATABASE}")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO events VALUES (:id, :organisation, 'Before', 'Hall B', 'UTC',"
                " :starts_at, :ends_at, 60, 'published', '{}')"
            ),
            {
                "id": before.event_id,
                "organisation": DEFAULT_ORGANISATION,
                "starts_at": starts_at,
                "ends_at": starts_at + timedelta(hours=4),
            },
        )
        connection.execute(
            text("INSERT INTO signing_keys VALUES (:id, :event, :private, :public, :at, NULL)"),
            {
                "id": before.key_id,
                "event": before.event_id,
                "private": before.private_key,
                "public": public_key_text(private_key.public_key()),
                "at": starts_at - timedelta(days=7),
            },
        )
        connection.execute(
            text(
                "INSERT INTO tickets (id, registration_id, event_id, ticket_type_id,"
                " attendee_name, attendee_email, status, payload, key_id, qr_secret,"
                " manage_token_sha256, valid_from, valid_until, issued_at)"
                " VALUES (:id, :registration, :event, :type, 'Old Timer', 'old@example.com',"
                " 'valid', 'LG1:NOT-SIGNED-IN-THIS-TEST', :key, :secret, :manage, :at,"
                " :until, :at)"
            ),
            {
                "id": before.ticket_id,
                "registration": before.registration_id,
                "event": before.event_id,
                "type": str(uuid.uuid4()),
                "key": before.key_id,
                "secret": before.mailed_key,
                "manage": hashlib.sha256(before.manage_token.encode()).hexdigest(),
                "at": starts_at - timedelta(hours=1),
                "until": starts_at + timedelta(hours=4),
            },
        )
    engine.dispose()
    with sqlite3.connect(data_dir / DATABASE) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return before
