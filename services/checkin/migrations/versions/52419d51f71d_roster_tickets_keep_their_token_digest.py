"""roster tickets keep their token's digest

Revision ID: 52419d51f71d
Revises: c2a7bc9dfa02
Create Date: 2026-12-01 18:30:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '52419d51f71d'
down_revision: Union[str, Sequence[str], None] = 'c2a7bc9dfa02'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('tickets', sa.Column('token_sha256', sa.String(length=64), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('tickets') as batch_op:
        batch_op.drop_column('token_sha256')
