"""The transactional outbox and its relay.

A service writes its state change and its event in one transaction (Transaction.publish);
the relay publishes stored events with publisher confirms and only then marks them sent.
The broker being down delays events; it never loses one or fails a request.
"""

import json
import logging
import threading
import uuid
from datetime import UTC, datetime, timedelta

from kombu import Exchange, Producer
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Index,
    MetaData,
    String,
    Table,
    func,
    select,
    update,
)
from sqlalchemy.orm import sessionmaker

from shared.bus.broker import broker_connection
from shared.bus.events import EVENT_SCHEMAS, ContractError, make_envelope
from shared.bus.topology import EVENTS_EXCHANGE
from shared.db import Transaction, clear_write_ahead_log
from shared.metrics import count_published

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT_SECONDS = 5
BATCH_SIZE = 200
# Sent events carry personal data (a registration.confirmed names its attendee), so they are
# kept only a day: long enough to replay them after an embedded restart (the last 15 minutes)
# and to look into yesterday's traffic, and an erased attendee's name does not linger.
SENT_EVENTS_KEPT = timedelta(days=1)
# The events whose data holds an attendee's name or email (shared/bus/events.py).
EVENTS_NAMING_ATTENDEES = ("registration.confirmed", "ticket.issued")


def define_outbox_table(metadata: MetaData) -> Table:
    return Table(
        "outbox",
        metadata,
        Column("id", String(36), primary_key=True),
        Column("event_type", String(64), nullable=False),
        Column("envelope", JSON, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("sent_at", DateTime(timezone=True), nullable=True),
        Index("ix_outbox_unsent", "created_at", postgresql_where="sent_at IS NULL"),
    )


class OutboxRows:
    """The outbox rows of events, checked against their contracts; the unit of work inserts
    them with its transaction's other changes (Transaction.publish)."""

    def __init__(self, table: Table, source: str):
        self.table = table
        self._source = source

    def row(self, event_type: str, data: dict, correlation_id) -> dict:
        envelope = make_envelope(event_type, data, self._source, correlation_id)
        return {
            "id": envelope["id"],
            "event_type": event_type,
            "envelope": envelope,
            "created_at": datetime.now(UTC),
        }

    def rows(self, event_type: str, items: list[dict], correlation_id) -> list[dict]:
        """Many events of one type (an offline batch of 10,000 scans).

        Every event is still checked against its schema, all in one pass of one schema; the
        first goes through make_envelope whole, and the others share its envelope with an id
        of their own.
        """
        if not items:
            return []
        first = make_envelope(event_type, items[0], self._source, correlation_id)
        if any(item.keys() != items[0].keys() for item in items):
            raise ContractError(f"{event_type}: events of one batch differ in their fields")
        schema = EVENT_SCHEMAS[event_type](many=True)
        serialised = schema.dump(items)
        errors = schema.validate(serialised)
        if errors:
            raise ContractError(f"{event_type}: errors {errors}")
        now = datetime.now(UTC)
        return [
            {
                "id": envelope_id,
                "event_type": event_type,
                "envelope": {**first, "id": envelope_id, "data": data},
                "created_at": now,
            }
            for envelope_id, data in ((str(uuid.uuid4()), data) for data in serialised)
        ]


def forget_attendees(tx: Transaction, registration_ids: list[str]) -> None:
    """In this transaction, delete the sent events of the service's outbox that name
    these registrations' attendees, and once it commits empty SQLite's write-ahead log of
    their bytes: an erasure's part in every service.

    Deleted, not blanked: a sent event has been delivered, and one relayed again after an
    embedded restart must still meet its contract, which a blanked attendee does not. An
    event not sent yet (the broker is down) is kept for its consumers, which blank their own
    copies when the registration.erased behind it arrives; it goes with the daily prune.
    """
    table = tx.outbox_table
    named = table.c.envelope[("data", "registration_id")].as_string()
    tx.session.execute(
        table.delete().where(
            table.c.sent_at.is_not(None),
            table.c.event_type.in_(EVENTS_NAMING_ATTENDEES),
            named.in_(registration_ids),
        )
    )
    engine = tx.session.get_bind()
    tx.on_commit(lambda: clear_write_ahead_log(engine))


def withdraw(tx: Transaction, envelope_id: str) -> None:
    """Delete an event that this transaction has written and not yet committed: to the bus
    it never existed. Only registration's predicted status needs it
    (services/registration/service.py, _announce_then_take_place)."""
    table = tx.outbox_table
    tx.session.connection().execute(table.delete().where(table.c.id == envelope_id))


def events_exchange() -> Exchange:
    return Exchange(EVENTS_EXCHANGE, type="topic", durable=True)


def publish_envelope(producer: Producer, envelope: dict) -> None:
    producer.publish(
        json.dumps(envelope),
        exchange=events_exchange(),
        routing_key=envelope["type"],
        content_type="application/json",
        content_encoding="utf-8",
        delivery_mode=2,
        message_id=envelope["id"],
        correlation_id=envelope.get("correlation_id") or envelope["id"],
        declare=[events_exchange()],
        timeout=PUBLISH_TIMEOUT_SECONDS,
        retry=True,
        retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
    )


class OutboxRelay:
    """Publishes unsent outbox rows in the order they were written."""

    def __init__(
        self, table: Table, session_factory: sessionmaker, broker_url: str, poll_seconds: float
    ):
        self._table = table
        self._session_factory = session_factory
        self._broker_url = broker_url
        self._poll_seconds = poll_seconds
        self.wake = threading.Event()

    def run(self, stop: threading.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                with broker_connection(self._broker_url) as connection:
                    producer = Producer(connection.default_channel)
                    failures = 0
                    while not stop.is_set():
                        if self.relay_once(producer) < BATCH_SIZE:
                            self.wake.wait(self._poll_seconds)
                            self.wake.clear()
            except Exception:
                failures += 1
                delay = min(0.5 * 2**failures, 10)
                log.exception("outbox relay failed; retrying in %.1fs", delay)
                stop.wait(delay)

    def relay_once(self, producer: Producer) -> int:
        """Publish one batch; return how many rows were sent."""
        table = self._table
        with self._session_factory() as session:
            rows = session.execute(
                select(table.c.id, table.c.envelope)
                .where(table.c.sent_at.is_(None))
                .order_by(table.c.created_at)
                .limit(BATCH_SIZE)
                .with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                publish_envelope(producer, row.envelope)
                count_published(row.envelope)
            if rows:
                session.execute(
                    update(table)
                    .where(table.c.id.in_([row.id for row in rows]))
                    .values(sent_at=datetime.now(UTC))
                )
            session.commit()
            return len(rows)

    def backlog(self) -> int:
        with self._session_factory() as session:
            return session.scalar(
                select(func.count()).select_from(self._table).where(self._table.c.sent_at.is_(None))
            )

    def prune_sent(self, now: datetime | None = None) -> int:
        """Delete the events sent more than SENT_EVENTS_KEPT ago; how many."""
        cutoff = (now or datetime.now(UTC)) - SENT_EVENTS_KEPT
        with self._session_factory() as session:
            pruned = session.execute(
                self._table.delete().where(self._table.c.sent_at < cutoff)
            ).rowcount
            session.commit()
            return pruned

    def replay_recent(self, window_seconds: float) -> int:
        """Mark events sent in the last `window_seconds` unsent, to relay them again."""
        since = datetime.now(UTC) - timedelta(seconds=window_seconds)
        with self._session_factory() as session:
            replayed = session.execute(
                update(self._table).where(self._table.c.sent_at >= since).values(sent_at=None)
            ).rowcount
            session.commit()
            return replayed
