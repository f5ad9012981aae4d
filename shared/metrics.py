"""Prometheus metrics: request latency, events published and consumed (registrations,
tickets, scans by verdict), outbox backlog, consumer lag and dead letters.

Under gunicorn a service runs in several processes (web workers and its bus worker); with
PROMETHEUS_MULTIPROC_DIR set (the Procfile sets one directory per service) prometheus-client
adds up their counters, so one scrape of any web process shows the whole service. Backlog,
lag and dead letters are read live at scrape time from the database and the broker.
"""

import logging
import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from shared.bus.broker import broker_connection
from shared.bus.topology import dead_letter_queue_name, queue_name

log = logging.getLogger(__name__)

HTTP_REQUEST_SECONDS = Histogram(
    "loopgate_http_request_seconds",
    "HTTP request latency",
    ["service", "method", "endpoint", "status"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
EVENTS_PUBLISHED = Counter(
    "loopgate_events_published_total",
    "Events relayed from the outbox to the bus (registrations, tickets, scans by verdict)",
    ["service", "type", "verdict"],
)
EVENTS_CONSUMED = Counter(
    "loopgate_events_consumed_total",
    "Events received by a consumer, by outcome",
    ["service", "type", "outcome"],
)


def count_published(envelope: dict) -> None:
    data = envelope.get("data") or {}
    EVENTS_PUBLISHED.labels(envelope["source"], envelope["type"], data.get("verdict", "")).inc()


def count_consumed(service: str, event_type: str, outcome: str) -> None:
    EVENTS_CONSUMED.labels(service, event_type, outcome).inc()


class _LiveGauges:
    """Read at scrape time: what is waiting in the outbox and in the broker's queues."""

    def __init__(self, runtime):
        self._runtime = runtime

    def collect(self):
        service = self._runtime.name
        backlog = GaugeMetricFamily(
            "loopgate_outbox_backlog", "Events written but not yet relayed", labels=["service"]
        )
        backlog.add_metric([service], self._runtime.relay.backlog())
        yield backlog
        depths = self._queue_depths(service)
        if depths is None:
            return
        lag = GaugeMetricFamily(
            "loopgate_consumer_lag", "Events waiting in the service's queue", labels=["service"]
        )
        lag.add_metric([service], depths[0])
        yield lag
        dead = GaugeMetricFamily(
            "loopgate_dead_letters", "Events parked in the dead-letter queue", labels=["service"]
        )
        dead.add_metric([service], depths[1])
        yield dead

    def _queue_depths(self, service: str) -> tuple[int, int] | None:
        if not self._runtime.definition.handlers:
            return (0, 0)
        try:
            with broker_connection(self._runtime.settings.broker_url) as connection:
                connection.ensure_connection(max_retries=1, timeout=2)
                channel = connection.channel()
                return tuple(
                    channel.queue_declare(name, passive=True).message_count
                    for name in (queue_name(service), dead_letter_queue_name(service))
                )
        except Exception:  # an unreachable broker leaves these gauges out of the scrape
            log.warning("metrics: broker unreachable, queue depths not reported")
            return None


def metrics_text(runtime) -> tuple[bytes, str]:
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        counters = CollectorRegistry()
        multiprocess.MultiProcessCollector(counters)
    else:
        counters = REGISTRY
    live = CollectorRegistry()
    live.register(_LiveGauges(runtime))
    return generate_latest(counters) + generate_latest(live), CONTENT_TYPE_LATEST
