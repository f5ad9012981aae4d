"""A service's worker: its event consumer, its outbox relay and any periodic tasks the
service lists, each on its own thread."""

import logging
import threading
from collections.abc import Mapping, Sequence

from shared.bus.broker import broker_connection
from shared.bus.consumer import EventConsumer, declare_topology
from shared.bus.inbox import process_once
from shared.runtime import PeriodicTask, ServiceDefinition, ServiceRuntime

log = logging.getLogger(__name__)


def _prune_sent_events(runtime: ServiceRuntime) -> None:
    runtime.relay.prune_sent()


# What every service's worker does besides its own tasks.
PRUNE_SENT_EVENTS = PeriodicTask("outbox-pruning", 15 * 60, _prune_sent_events)


def periodic_tasks(definition: ServiceDefinition) -> tuple[PeriodicTask, ...]:
    return (PRUNE_SENT_EVENTS, *definition.periodic_tasks)


class ServiceWorker:
    """`subscriptions`: the event types each service of the system consumes, by service
    name; the worker declares all their queues at start, so no event published before the
    other consumers start is lost."""

    def __init__(self, runtime: ServiceRuntime, subscriptions: Mapping[str, Sequence[str]]):
        self.runtime = runtime
        self.subscriptions = subscriptions
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._consumer: EventConsumer | None = None

    def start(self) -> None:
        settings = self.runtime.settings
        with broker_connection(settings.broker_url) as connection:
            connection.ensure_connection(max_retries=10, interval_start=1, interval_step=1)
            declare_topology(connection, self.subscriptions)
        handlers = self.runtime.definition.handlers
        if handlers:
            self._consumer = EventConsumer(
                broker_connection(settings.broker_url),
                self.runtime.name,
                handlers,
                self._process,
            )
            self._spawn("consumer", self._consumer.run)
        self._spawn("relay", lambda: self.runtime.relay.run(self._stop))
        for task in periodic_tasks(self.runtime.definition):
            self._spawn(task.name, lambda task=task: self._repeat(task))

    def wait_until_consuming(self, timeout: float = 10) -> bool:
        return self._consumer is None or self._consumer.ready.wait(timeout)

    def _process(self, envelope: dict, data: dict, handle) -> bool:
        inbox = self.runtime.tables.inbox
        return process_once(self.runtime.unit_of_work(), inbox, envelope, data, handle)

    def _repeat(self, task: PeriodicTask) -> None:
        while True:
            try:
                task.run(self.runtime)
            except Exception:  # the next round tries again; the reason is in the log
                log.exception("%s: periodic task %s failed", self.runtime.name, task.name)
            if self._stop.wait(task.every_seconds):
                return

    def _spawn(self, role: str, target) -> None:
        thread = threading.Thread(target=target, name=f"{self.runtime.name}-{role}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        self.runtime.relay.wake.set()
        if self._consumer is not None:
            self._consumer.should_stop = True
        for thread in self._threads:
            thread.join(timeout)
