"""The inbox: a consumer records each event id in the same transaction as its effect,
so a redelivered event changes nothing."""

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, MetaData, String, Table, select

from shared.db import Transaction, UnitOfWork
from shared.logs import set_correlation_id


def define_inbox_table(metadata: MetaData) -> Table:
    return Table(
        "inbox",
        metadata,
        Column("event_id", String(36), primary_key=True),
        Column("event_type", String(64), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False),
    )


def process_once(
    uow: UnitOfWork,
    inbox: Table,
    envelope: dict,
    data: dict,
    handle: Callable[[Transaction, dict], None],
) -> bool:
    """Run `handle` for an event unless it was processed before. True if it ran.

    This function owns the transaction: it begins it, records the event id in it, and
    commits once `handle` has returned. `handle` works in it through the Transaction it is
    given, which has no commit.

    Two deliveries racing each other both pass the check; the primary key then rejects the
    second at commit and its delivery is retried, finding the event already processed.
    """
    event_id = str(envelope["id"])
    set_correlation_id(envelope.get("correlation_id") or event_id)
    with uow:
        seen = uow.session.scalar(select(inbox.c.event_id).where(inbox.c.event_id == event_id))
        if seen:
            return False
        uow.session.execute(
            inbox.insert().values(
                event_id=event_id, event_type=envelope["type"], processed_at=datetime.now(UTC)
            )
        )
        handle(uow.transaction, data)
        uow.commit()
        return True
