"""ticket type names in every language

Revision ID: c9e5a1b3d4f6
Revises: b8d4f0a2c3e5
Create Date: 2026-12-05 10:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "c9e5a1b3d4f6"
down_revision: str | Sequence[str] | None = "b8d4f0a2c3e5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The venue in other languages needs no column: it joins the event's translations.
    # Not in batch mode: on SQLite that copies the table, which its foreign keys forbid; a
    # column is added and dropped in place there too (SQLite 3.35 and later).
    op.add_column(
        "ticket_types", sa.Column("translations", sa.JSON(), server_default="{}", nullable=False)
    )


def downgrade() -> None:
    op.drop_column("ticket_types", "translations")
