"""The operator's RabbitMQ tool: declare and check the topology, inspect and replay dead letters.

Plain pika rather than kombu, because all of this is RabbitMQ-specific (quorum queues,
dead-letter headers, passive declares). Names and arguments come from shared.bus.topology,
so what is declared here is exactly what the services' kombu consumers declare.
"""

import json
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pika
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection
from pika.exceptions import AMQPError, ChannelClosedByBroker

from shared.bus.topology import (
    DEAD_LETTER_EXCHANGE,
    EVENTS_EXCHANGE,
    dead_letter_queue_arguments,
    dead_letter_queue_name,
    queue_arguments,
    queue_name,
)

EXCHANGES = ((EVENTS_EXCHANGE, "topic"), (DEAD_LETTER_EXCHANGE, "direct"))

NOT_FOUND = 404

ORIGINAL_ROUTING_KEY_HEADER = "x-original-routing-key"
ERROR_HEADER = "x-loopgate-error"

# A quorum queue takes messages back within milliseconds; this only bounds a pathological wait.
HAND_BACK_TIMEOUT_SECONDS = 5


class RabbitMQAdminError(Exception):
    """Anything pika reported, as one message an operator can read."""


def declare_topology(url: str, subscriptions: dict[str, list[str]]) -> list[str]:
    """Declare the exchanges and, per service, its queue, bindings and dead-letter queue.

    Idempotent: RabbitMQ accepts a redeclaration with the same arguments. Bindings for routing
    keys a service no longer subscribes to are left alone (AMQP cannot list them).
    """
    declared = []
    with _connection(url) as connection:
        channel = connection.channel()
        for exchange, exchange_type in EXCHANGES:
            channel.exchange_declare(exchange, exchange_type, durable=True)
            declared.append(f"exchange {exchange} ({exchange_type}, durable)")
        for service, routing_keys in subscriptions.items():
            declared += _declare_service(channel, service, routing_keys)
    return declared


def verify_topology(url: str, subscriptions: dict[str, list[str]]) -> list[str]:
    """Return what is missing or declared differently from the contract; empty means all is well.

    Existence is checked with passive declares. Arguments are checked by redeclaring what exists
    with the expected arguments: RabbitMQ refuses (406 PRECONDITION_FAILED) when they differ, and
    accepts an identical redeclaration without changing anything.

    Bindings are not checked: AMQP offers no way to read them, and asking rabbitmqctl or the
    management API would inspect whichever broker those reach, not necessarily the one at `url`.
    declare_topology restores any missing binding.
    """
    with _connection(url) as connection:
        problems = [
            problem
            for exchange, exchange_type in EXCHANGES
            if (problem := _exchange_problem(connection, exchange, exchange_type))
        ]
        for service in subscriptions:
            for queue, arguments in (
                (queue_name(service), queue_arguments(service)),
                (dead_letter_queue_name(service), dead_letter_queue_arguments()),
            ):
                if problem := _queue_problem(connection, queue, arguments):
                    problems.append(problem)
    return problems


def list_dead_letters(url: str, service: str) -> list[dict]:
    """Every message in the service's dead-letter queue, left in place.

    Each is {"message_id", "type", "error", "envelope"}; the envelope is the parsed JSON, or the
    raw text when the body is not JSON (which may be why it was dead-lettered).
    """
    with _connection(url) as connection:
        channel = connection.channel()
        queue = dead_letter_queue_name(service)
        dead_letters = [
            _describe_dead_letter(properties, body)
            for _, properties, body in _take_ready_messages(channel, queue)
        ]
        _hand_back(channel, queue, len(dead_letters))
    return dead_letters


def replay_dead_letters(url: str, service: str, message_ids: set[str] | None = None) -> int:
    """Move the chosen dead letters (all when message_ids is None) back to the service's queue.

    They go through the default exchange straight to that one queue, so no other service gets
    the event twice. Each is removed from the dead-letter queue only once the broker has
    confirmed the copy; the others stay where they are. Returns how many were replayed.
    """
    replayed = left = 0
    with _connection(url) as connection:
        channel = connection.channel()
        channel.confirm_delivery()
        dead_letter_queue = dead_letter_queue_name(service)
        for method, properties, body in _take_ready_messages(channel, dead_letter_queue):
            if message_ids is not None and _message_id(properties, body) not in message_ids:
                left += 1
                continue
            properties.delivery_mode = pika.DeliveryMode.Persistent.value
            # mandatory: with confirms, pika raises instead of the broker silently dropping the
            # copy when the service queue does not exist.
            channel.basic_publish(
                exchange="",
                routing_key=queue_name(service),
                body=body,
                properties=properties,
                mandatory=True,
            )
            channel.basic_ack(method.delivery_tag)
            replayed += 1
        _hand_back(channel, dead_letter_queue, left)
    return replayed


@contextmanager
def _connection(url: str) -> Iterator[BlockingConnection]:
    """A connection to the broker; the one place where pika's errors become RabbitMQAdminError."""
    parameters = connection_parameters(url)
    try:
        connection = BlockingConnection(parameters)
        try:
            yield connection
        finally:
            if connection.is_open:
                connection.close()
    except AMQPError as error:
        where = f"{parameters.host}:{parameters.port}{parameters.virtual_host}"
        raise RabbitMQAdminError(f"RabbitMQ at {where}: {_explain(error)}") from error


def connection_parameters(url: str) -> pika.URLParameters:
    """pika's parameters for a broker URL as the services write it (kombu's reading of it)."""
    parts = urllib.parse.urlsplit(url)
    # kombu takes everything after the first slash as the vhost, so "amqp://host//" is "/";
    # pika stops at the next slash and would ask for the empty vhost.
    virtual_host = urllib.parse.unquote(parts.path[1:]) or "/"
    path = "/" + urllib.parse.quote(virtual_host, safe="")
    parameters = pika.URLParameters(parts._replace(path=path).geturl())
    # An operator's command should fail within seconds on a dead or blocked broker, not hang.
    parameters.connection_attempts = 1
    parameters.socket_timeout = 5
    parameters.stack_timeout = 10
    parameters.blocked_connection_timeout = 10
    return parameters


def _explain(error: AMQPError) -> str:
    if isinstance(error, ChannelClosedByBroker):
        return f"{error.reply_code} {error.reply_text}"
    # pika's connection errors keep their cause only in their args, which repr shows.
    return repr(error)


def _declare_service(channel: BlockingChannel, service: str, routing_keys: list[str]) -> list[str]:
    queue, dead_letter_queue = queue_name(service), dead_letter_queue_name(service)
    channel.queue_declare(queue, durable=True, arguments=queue_arguments(service))
    declared = [f"queue {queue} (quorum, dead-letters to {dead_letter_queue})"]
    for routing_key in routing_keys:
        channel.queue_bind(queue, EVENTS_EXCHANGE, routing_key=routing_key)
        declared.append(f"binding {EVENTS_EXCHANGE} -> {queue} on {routing_key}")
    channel.queue_declare(dead_letter_queue, durable=True, arguments=dead_letter_queue_arguments())
    declared.append(f"queue {dead_letter_queue} (quorum)")
    channel.queue_bind(dead_letter_queue, DEAD_LETTER_EXCHANGE, routing_key=queue)
    declared.append(f"binding {DEAD_LETTER_EXCHANGE} -> {dead_letter_queue} on {queue}")
    return declared


def _exchange_problem(connection: BlockingConnection, exchange: str, exchange_type: str) -> str:
    if _refused_on_not_found(
        connection, lambda channel: channel.exchange_declare(exchange, passive=True)
    ):
        return f"exchange {exchange} is missing"
    refusal = _refusal(
        connection, lambda channel: channel.exchange_declare(exchange, exchange_type, durable=True)
    )
    if refusal:
        return (
            f"exchange {exchange} is not a durable {exchange_type} exchange: {refusal.reply_text}"
        )
    return ""


def _queue_problem(connection: BlockingConnection, queue: str, arguments: dict) -> str:
    if _refused_on_not_found(
        connection, lambda channel: channel.queue_declare(queue, passive=True)
    ):
        return f"queue {queue} is missing"
    refusal = _refusal(
        connection,
        lambda channel: channel.queue_declare(queue, durable=True, arguments=arguments),
    )
    if refusal:
        return f"queue {queue} is declared with other arguments: {refusal.reply_text}"
    return ""


def _refused_on_not_found(
    connection: BlockingConnection, declare: Callable[[BlockingChannel], object]
) -> bool:
    refusal = _refusal(connection, declare)
    if refusal and refusal.reply_code != NOT_FOUND:
        # Anything but "not found" (say, access refused) says nothing about existence.
        raise refusal
    return refusal is not None


def _refusal(
    connection: BlockingConnection, declare: Callable[[BlockingChannel], object]
) -> ChannelClosedByBroker | None:
    """Run the declare on a channel of its own, since a refusal closes the channel it happens on."""
    channel = connection.channel()
    try:
        declare(channel)
    except ChannelClosedByBroker as refusal:
        return refusal
    channel.close()
    return None


def _take_ready_messages(
    channel: BlockingChannel, queue: str
) -> Iterator[tuple[pika.spec.Basic.GetOk, pika.BasicProperties, bytes]]:
    """Take, unacknowledged, the messages ready in the queue when this starts.

    Bounded by that count so that messages dead-lettered meanwhile (say, a replayed one failing
    again at once) wait for the next run instead of making this loop forever.
    """
    for _ in range(_ready_count(channel, queue)):
        method, properties, body = channel.basic_get(queue, auto_ack=False)
        if method is None:
            return
        yield method, properties, body


def _hand_back(channel: BlockingChannel, queue: str, taken: int) -> None:
    """Return every unacknowledged message to the queue, and wait until the queue shows them.

    A quorum queue applies the return asynchronously; waiting means that whatever runs next (a
    replay straight after a listing, say) finds them all. Should the wait run out, the messages
    are still safe: the broker returns them anyway when the connection closes.
    """
    channel.basic_nack(delivery_tag=0, multiple=True, requeue=True)
    deadline = time.monotonic() + HAND_BACK_TIMEOUT_SECONDS
    while _ready_count(channel, queue) < taken and time.monotonic() < deadline:
        time.sleep(0.01)


def _ready_count(channel: BlockingChannel, queue: str) -> int:
    return channel.queue_declare(queue, passive=True).method.message_count


def _describe_dead_letter(properties: pika.BasicProperties, body: bytes) -> dict:
    headers = properties.headers or {}
    envelope = _parse_envelope(body)
    return {
        "message_id": _message_id(properties, body),
        "type": _event_type(headers, envelope),
        "error": _error(headers),
        "envelope": envelope,
    }


def _parse_envelope(body: bytes) -> dict | str:
    try:
        return json.loads(body)
    except ValueError:
        return body.decode("utf-8", errors="replace")


def _message_id(properties: pika.BasicProperties, body: bytes) -> str | None:
    if properties.message_id:
        return properties.message_id
    envelope = _parse_envelope(body)
    return envelope.get("id") if isinstance(envelope, dict) else None


def _event_type(headers: dict, envelope: dict | str) -> str | None:
    if headers.get(ORIGINAL_ROUTING_KEY_HEADER):
        return headers[ORIGINAL_ROUTING_KEY_HEADER]
    # The broker's own dead-lettering records the routing keys the message was published with.
    for death in headers.get("x-death") or []:
        if death.get("routing-keys"):
            return death["routing-keys"][0]
    return envelope.get("type") if isinstance(envelope, dict) else None


def _error(headers: dict) -> str | None:
    if headers.get(ERROR_HEADER):
        return headers[ERROR_HEADER]
    for death in headers.get("x-death") or []:
        return f"dead-lettered by RabbitMQ ({death.get('reason')}) from {death.get('queue')}"
    return None
