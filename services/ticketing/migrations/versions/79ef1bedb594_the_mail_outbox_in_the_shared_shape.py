"""the mail outbox in the shared shape

Revision ID: 79ef1bedb594
Revises: 502071c2d1e6
Create Date: 2026-12-04 18:50:00

The mail outbox moved to shared/mail/outbox.py (issue 17): a row names its kind of mail and
the row it is about instead of a ticket. Every row here is a ticket's mail, so it keeps its
status, attempts and times; `ticket_id` becomes `about_id` (by no foreign key now: the
library's table knows no service's), `kind` is "ticket", and `registration_id`, by which an
erasure finds the mail, is the ticket's.

On SQLite the foreign key goes only with a rebuild of mail_outbox (a copy of its rows into a
new table), which is safe: no table refers to mail_outbox. The tickets table, which mail
used to refer to, is not rebuilt.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "79ef1bedb594"
down_revision: str | Sequence[str] | None = "502071c2d1e6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TICKET_MAIL = "ticket"


def upgrade() -> None:
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.drop_constraint("fk_mail_outbox_ticket_id_tickets", type_="foreignkey")
        batch_op.drop_index("ix_mail_outbox_ticket_id")
        batch_op.alter_column("ticket_id", new_column_name="about_id")
        # The default only labels the rows already here; new rows always name their kind.
        batch_op.add_column(
            sa.Column("kind", sa.String(length=32), nullable=False, server_default=TICKET_MAIL)
        )
        batch_op.add_column(sa.Column("registration_id", sa.String(length=36), nullable=True))

    op.execute(
        "UPDATE mail_outbox SET registration_id ="
        " (SELECT tickets.registration_id FROM tickets WHERE tickets.id = mail_outbox.about_id)"
    )
    # A second step: a batch cannot index a column it renames (alembic).
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.alter_column("kind", existing_type=sa.String(length=32), server_default=None)
        batch_op.create_index("ix_mail_outbox_about_id", ["about_id"], unique=False)
        batch_op.create_index("ix_mail_outbox_registration_id", ["registration_id"], unique=False)


def downgrade() -> None:
    """Refused while the outbox holds mail of any kind but ticket mail, which the old table
    cannot hold."""
    others = op.get_bind().scalar(
        sa.text("SELECT count(*) FROM mail_outbox WHERE kind != :kind"), {"kind": TICKET_MAIL}
    )
    if others:
        raise RuntimeError(f"{others} mails of other kinds than ticket mail: not downgraded")
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_mail_outbox_registration_id")
        batch_op.drop_index("ix_mail_outbox_about_id")
        batch_op.drop_column("registration_id")
        batch_op.drop_column("kind")
        batch_op.alter_column("about_id", new_column_name="ticket_id")
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_mail_outbox_ticket_id", ["ticket_id"], unique=False)
        batch_op.create_foreign_key(
            "fk_mail_outbox_ticket_id_tickets", "tickets", ["ticket_id"], ["id"]
        )
