"""manage tokens as digests, idempotency keys per client

Registrations keep only the SHA-256 digest of their manage token: each stored token is
turned into its digest here, so every manage link sent keeps working. Idempotency keys
move from the registration to idempotency_records, scoped to the client's address with a
fingerprint of the request. The keys already stored are dropped, not moved: a repeat must
hand back the manage token, which a migration cannot seal (the secret box is the running
instance's), and a key only counts for a day anyway.

Revision ID: dd0a7562c8d7
Revises: 54c08f2bf990
Create Date: 2026-12-04 02:14:19.443495

"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "dd0a7562c8d7"
down_revision: str | Sequence[str] | None = "54c08f2bf990"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

registrations = sa.table(
    "registrations",
    sa.column("id", sa.String),
    sa.column("manage_token", sa.String),
    sa.column("manage_token_sha256", sa.String),
)


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "idempotency_records",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("client_address", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_sha256", sa.String(length=64), nullable=False),
        sa.Column("registration_id", sa.String(length=36), nullable=False),
        sa.Column("sealed_manage_token", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_idempotency_records_event_id_events")
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_idempotency_records_registration_id_registrations"),
        ),
        sa.PrimaryKeyConstraint(
            "event_id", "client_address", "key", name=op.f("pk_idempotency_records")
        ),
    )
    with op.batch_alter_table("idempotency_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotency_records_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_idempotency_records_registration_id"), ["registration_id"], unique=False
        )

    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("manage_token_sha256", sa.String(length=64), nullable=True))

    connection = op.get_bind()
    digests = [
        {"row_id": row.id, "digest": hashlib.sha256(row.manage_token.encode()).hexdigest()}
        for row in connection.execute(sa.select(registrations.c.id, registrations.c.manage_token))
    ]
    if digests:
        connection.execute(
            registrations.update()
            .where(registrations.c.id == sa.bindparam("row_id"))
            .values(manage_token_sha256=sa.bindparam("digest")),
            digests,
        )

    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.alter_column(
            "manage_token_sha256", existing_type=sa.String(length=64), nullable=False
        )
        batch_op.drop_constraint(batch_op.f("uq_registrations_event_id"), type_="unique")
        batch_op.drop_constraint(batch_op.f("uq_registrations_manage_token"), type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_registrations_manage_token_sha256"), ["manage_token_sha256"]
        )
        batch_op.drop_column("manage_token")
        batch_op.drop_column("idempotency_key")


def downgrade() -> None:
    """Refused: the manage tokens cannot be had back from their digests, so every manage
    link sent would stop opening."""
    raise NotImplementedError(
        "manage tokens are stored as digests since dd0a7562c8d7 and cannot be restored"
    )
