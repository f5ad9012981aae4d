"""Consuming events with kombu: the same code on the memory transport and on RabbitMQ.

A message is acked only after its handler's transaction has committed. A failing message is
requeued a bounded number of times and then moved to the service's dead-letter queue, where
an operator can inspect and replay it (`loopgate dead-letters`).
"""

import json
import logging
import threading
import time
from collections.abc import Callable

from kombu import Connection, Exchange, Producer, Queue, binding
from kombu.mixins import ConsumerMixin
from sqlalchemy.exc import OperationalError

from shared.bus.events import ContractError, read_envelope
from shared.bus.outbox import events_exchange
from shared.bus.topology import (
    DEAD_LETTER_EXCHANGE,
    MAX_DELIVERY_ATTEMPTS,
    dead_letter_queue_arguments,
    dead_letter_queue_name,
    queue_arguments,
    queue_name,
)
from shared.metrics import count_consumed

log = logging.getLogger(__name__)

PREFETCH = 32


def dead_letter_exchange() -> Exchange:
    return Exchange(DEAD_LETTER_EXCHANGE, type="direct", durable=True)


def service_queue(service: str, event_types: list[str]) -> Queue:
    exchange = events_exchange()
    return Queue(
        queue_name(service),
        bindings=[binding(exchange, routing_key=event_type) for event_type in event_types],
        durable=True,
        queue_arguments=queue_arguments(service),
    )


def dead_letter_queue(service: str) -> Queue:
    return Queue(
        dead_letter_queue_name(service),
        exchange=dead_letter_exchange(),
        routing_key=queue_name(service),
        durable=True,
        queue_arguments=dead_letter_queue_arguments(),
    )


def declare_topology(connection: Connection, subscriptions: dict[str, list[str]]) -> None:
    """Declare every queue before anything is published: an unbound event would be lost."""
    channel = connection.default_channel
    events_exchange()(channel).declare()
    dead_letter_exchange()(channel).declare()
    for service, event_types in subscriptions.items():
        if event_types:
            service_queue(service, event_types)(channel).declare()
            dead_letter_queue(service)(channel).declare()


class EventConsumer(ConsumerMixin):
    def __init__(
        self,
        connection: Connection,
        service: str,
        handlers: dict[str, Callable],
        process: Callable[[dict, dict, Callable], object],
    ):
        self.connection = connection
        self._service = service
        self._handlers = handlers
        self._process = process
        self._failures: dict[str, int] = {}
        self.ready = threading.Event()

    def get_consumers(self, consumer_class, channel):
        queue = service_queue(self._service, sorted(self._handlers))
        return [
            consumer_class(
                queues=[queue],
                callbacks=[self.on_message],
                accept=["json"],
                prefetch_count=PREFETCH,
            )
        ]

    def on_consume_ready(self, connection, channel, consumers, **kwargs):
        self.ready.set()

    def on_message(self, body, message) -> None:
        message_id = message.properties.get("message_id") or str(body.get("id", ""))
        event_type = str(body.get("type", "unknown"))
        try:
            envelope, data = read_envelope(body)
            ran = self._process(envelope, data, self._handlers[envelope["type"]])
        except ContractError as error:
            self._dead_letter(message, body, f"contract: {error}")
            count_consumed(self._service, event_type, "dead_lettered")
        except OperationalError as error:
            # The database is down or restarting: not the message's fault, so it does not
            # count towards dead-lettering; wait a little and try again.
            log.warning(
                "%s: database unavailable (%s); retrying %s", self._service, error.orig, message_id
            )
            count_consumed(self._service, event_type, "retried")
            time.sleep(2)
            message.requeue()
        except Exception as error:
            attempts = self._attempts(message, message_id)
            if attempts >= MAX_DELIVERY_ATTEMPTS:
                self._dead_letter(message, body, f"{type(error).__name__}: {error}")
                count_consumed(self._service, event_type, "dead_lettered")
                return
            count_consumed(self._service, event_type, "retried")
            log.exception(
                "%s: handling %s failed (attempt %d)", self._service, message_id, attempts
            )
            # A short pause so a failure caused by a neighbour (database restarting) can pass.
            time.sleep(min(0.2 * 2**attempts, 3))
            message.requeue()
        else:
            self._failures.pop(message_id, None)
            message.ack()
            count_consumed(self._service, event_type, "processed" if ran else "duplicate")

    def _attempts(self, message, message_id: str) -> int:
        self._failures[message_id] = self._failures.get(message_id, 0) + 1
        broker_count = message.headers.get("x-delivery-count") or 0
        return max(self._failures[message_id], int(broker_count) + 1)

    def _dead_letter(self, message, body, reason: str) -> None:
        log.error("%s: dead-lettering %s: %s", self._service, message.delivery_info, reason)
        producer = Producer(self.connection.default_channel)
        producer.publish(
            json.dumps(body) if not isinstance(body, str | bytes) else body,
            exchange=dead_letter_exchange(),
            routing_key=queue_name(self._service),
            content_type="application/json",
            delivery_mode=2,
            message_id=message.properties.get("message_id"),
            headers={
                "x-original-routing-key": message.delivery_info.get("routing_key", ""),
                "x-loopgate-error": reason[:500],
            },
            timeout=5,
        )
        self._failures.pop(message.properties.get("message_id"), None)
        message.ack()
