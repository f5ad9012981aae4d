"""member identities: registration's identity keys, membership copies, revoked access tokens

Revision ID: c4d2e8f1a7b6
Revises: a4f727bcc659
Create Date: 2026-12-04 19:20:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "c4d2e8f1a7b6"
down_revision: str | Sequence[str] | None = "a4f727bcc659"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "identity_keys",
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_identity_keys")),
    )
    op.create_table(
        "member_copies",
        sa.Column("member_id", sa.String(length=36), nullable=False),
        sa.Column("organisation_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("event_ids", sa.JSON(), nullable=True),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("signed_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_member_copies")),
    )
    op.create_table(
        "revoked_access_tokens",
        sa.Column("token_id", sa.String(length=32), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_id", name=op.f("pk_revoked_access_tokens")),
    )


def downgrade() -> None:
    op.drop_table("revoked_access_tokens")
    op.drop_table("member_copies")
    op.drop_table("identity_keys")
