"""event texts in every language: title, venue and ticket type names, from the event events

Revision ID: d1f7b3c5e8a2
Revises: b7e1d0a5c3f2
Create Date: 2026-12-05 10:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "d1f7b3c5e8a2"
down_revision: str | Sequence[str] | None = "b7e1d0a5c3f2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Empty until the event's next event.updated: its tickets show the default texts.
    # Not in batch mode: on SQLite that copies the table, which its foreign keys forbid; a
    # column is added and dropped in place there too (SQLite 3.35 and later).
    op.add_column(
        "events", sa.Column("translations", sa.JSON(), server_default="{}", nullable=False)
    )


def downgrade() -> None:
    op.drop_column("events", "translations")
