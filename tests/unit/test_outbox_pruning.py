"""Sent events are kept a day, then pruned (shared/bus/outbox.py): they carry personal data,
and an outbox that only grows costs every relay round more. Unsent events are never pruned."""

from datetime import UTC, datetime, timedelta

from kombu import Producer
from sqlalchemy import func, select

from services.system import definition
from shared.bus.broker import broker_connection
from shared.bus.outbox import SENT_EVENTS_KEPT
from shared.worker import periodic_tasks

pytest_plugins = ["tests.unit.domain_fixtures"]


def stored_events(runtime) -> tuple[int, int]:
    """(sent, unsent) events in the runtime's outbox."""
    outbox = runtime.tables.outbox
    with runtime.session_factory() as session:
        sent = session.scalar(select(func.count()).where(outbox.c.sent_at.is_not(None)))
        unsent = session.scalar(select(func.count()).where(outbox.c.sent_at.is_(None)))
    return sent, unsent


def relay_all(runtime) -> None:
    with broker_connection("memory://localhost/") as connection:
        runtime.relay.relay_once(Producer(connection.default_channel))


def test_events_sent_over_a_day_ago_are_pruned_and_unsent_ones_kept(desk):
    event, ticket_type = desk.published_event(quota=5)
    desk.registered(event, ticket_type, name="Ada Lovelace")
    relay_all(desk.runtime)
    desk.registered(event, ticket_type, name="Grace Hopper")  # not relayed yet
    sent, unsent = stored_events(desk.runtime)
    assert sent >= 2 and unsent == 1  # event.published, event.updated, Ada's confirmation

    assert desk.runtime.relay.prune_sent(datetime.now(UTC) + timedelta(hours=1)) == 0
    a_day_on = datetime.now(UTC) + SENT_EVENTS_KEPT + timedelta(minutes=1)
    assert desk.runtime.relay.prune_sent(a_day_on) == sent

    assert stored_events(desk.runtime) == (0, 1)


def test_every_service_worker_prunes_its_outbox():
    for service in ("registration", "ticketing", "checkin"):
        assert "outbox-pruning" in [task.name for task in periodic_tasks(definition(service))]
