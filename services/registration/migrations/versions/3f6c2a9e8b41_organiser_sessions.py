"""organiser sessions: the organiser pages' sign-in, by session id digest

Revision ID: 3f6c2a9e8b41
Revises: dd0a7562c8d7
Create Date: 2026-12-04 02:40:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "3f6c2a9e8b41"
down_revision: str | Sequence[str] | None = "dd0a7562c8d7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "organiser_sessions",
        sa.Column("id_sha256", sa.String(length=64), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id_sha256", name=op.f("pk_organiser_sessions")),
    )
    with op.batch_alter_table("organiser_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_organiser_sessions_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("organiser_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_organiser_sessions_expires_at"))
    op.drop_table("organiser_sessions")
