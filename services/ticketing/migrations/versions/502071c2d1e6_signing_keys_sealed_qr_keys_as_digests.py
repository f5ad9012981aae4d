"""signing keys sealed at rest, QR keys kept as digests

Revision ID: 502071c2d1e6
Revises: d58d11cc1695
Create Date: 2026-12-04 02:16:53

Each private key is sealed in place with the secret box that ServiceRuntime.prepare hands
over (shared/db.py migrate), bound to its key id and event as services/ticketing/
ticket_secrets.py opens it; each ticket's QR key is replaced by its SHA-256 digest, so the
links already mailed keep working. Columns are renamed, never rebuilt: on SQLite a rebuild
drops the table, which the tickets' and mails' foreign keys refuse.

On SQLite, secure_delete overwrites the replaced bytes instead of leaving them in free
space; on PostgreSQL the old row versions stay in the table files until a VACUUM reuses
their space (VACUUM FULL rewrites the files at once: docs/ticketing.md).
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "502071c2d1e6"
down_revision: str | Sequence[str] | None = "d58d11cc1695"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

signing_keys = sa.table(
    "signing_keys",
    sa.column("key_id", sa.String),
    sa.column("event_id", sa.String),
    sa.column("sealed_private_key", sa.LargeBinary),
)
tickets = sa.table("tickets", sa.column("id", sa.String), sa.column("qr_key_sha256", sa.String))


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("PRAGMA secure_delete = ON")
    op.alter_column("signing_keys", "private_key", new_column_name="sealed_private_key")
    op.alter_column("tickets", "qr_secret", new_column_name="qr_key_sha256")

    keys = connection.execute(sa.select(signing_keys)).all()
    box = op.get_context().config.attributes.get("secret_box")
    if keys and box is None:
        raise RuntimeError(
            "signing keys are to be sealed with the key-encryption key: migrate with "
            "`loopgate migrate`, not the alembic command"
        )
    sealed = [
        {
            "row_id": key.key_id,
            # As ticket_secrets.signing_key_context says it.
            "value": box.seal(
                key.sealed_private_key,
                f"ticketing signing key {key.key_id} of event {key.event_id}",
            ),
        }
        for key in keys
    ]
    _replace(signing_keys, signing_keys.c.key_id, signing_keys.c.sealed_private_key, sealed)
    digests = [
        {"row_id": ticket.id, "value": hashlib.sha256(ticket.qr_key_sha256.encode()).hexdigest()}
        for ticket in connection.execute(sa.select(tickets)).all()
    ]
    _replace(tickets, tickets.c.id, tickets.c.qr_key_sha256, digests)


def _replace(table, key: sa.Column, column: sa.Column, rows: list[dict]) -> None:
    """Set `column` of each row (`row_id`) to its `value`, in one executemany."""
    if rows:
        statement = (
            table.update()
            .where(key == sa.bindparam("row_id"))
            .values({column.name: sa.bindparam("value")})
        )
        op.get_bind().execute(statement, rows)


def downgrade() -> None:
    raise NotImplementedError(
        "Sealed keys and QR key digests are not turned back into secrets: restore the "
        "database backed up before the upgrade."
    )
