"""The operator's RabbitMQ tool against the real broker.

Each test works on made-up services with their own queues, deleted afterwards, so it neither
sees nor disturbs the real services' messages. The shared exchanges are left in place.
"""

import json
import time
import uuid
from collections.abc import Iterator

import pika
import pytest

from shared.bus.topology import (
    DEAD_LETTER_EXCHANGE,
    EVENTS_EXCHANGE,
    dead_letter_queue_name,
    queue_name,
)
from shared.rabbitmq_admin import (
    RabbitMQAdminError,
    connection_parameters,
    declare_topology,
    list_dead_letters,
    replay_dead_letters,
    verify_topology,
)
from tests.support import wait_until

pytestmark = pytest.mark.integration

# Unique per run, so that concurrent runs never route events into each other's queues.
EVENT_TYPE = f"test.happened.{uuid.uuid4().hex[:12]}"


@pytest.fixture
def broker(rabbitmq_url: str) -> Iterator[pika.adapters.blocking_connection.BlockingChannel]:
    """A channel with publisher confirms, for setting the scene and looking at queues."""
    connection = pika.BlockingConnection(connection_parameters(rabbitmq_url))
    channel = connection.channel()
    channel.confirm_delivery()
    yield channel
    connection.close()


@pytest.fixture
def made_up_services(rabbitmq_url: str) -> Iterator[list[str]]:
    """Two service names of this test's own; their queues are deleted afterwards."""
    services = [f"test-{uuid.uuid4().hex[:12]}" for _ in range(2)]
    yield services
    connection = pika.BlockingConnection(connection_parameters(rabbitmq_url))
    channel = connection.channel()
    for service in services:
        channel.queue_delete(queue_name(service))
        channel.queue_delete(dead_letter_queue_name(service))
    connection.close()


@pytest.fixture
def service(rabbitmq_url: str, made_up_services: list[str]) -> str:
    """A declared made-up service, subscribed to EVENT_TYPE."""
    declare_topology(rabbitmq_url, {made_up_services[0]: [EVENT_TYPE]})
    return made_up_services[0]


def make_envelope() -> dict:
    return {
        "id": str(uuid.uuid4()),
        "type": EVENT_TYPE,
        "version": 1,
        "occurred_at": "2025-05-01T18:00:00+00:00",
        "source": "test",
        "correlation_id": str(uuid.uuid4()),
        "data": {"n": 1},
    }


def dead_letter(channel, service: str, envelope: dict, error: str) -> None:
    """Dead-letter the envelope the way a consumer does once it gives up on it."""
    channel.basic_publish(
        exchange=DEAD_LETTER_EXCHANGE,
        routing_key=queue_name(service),
        body=json.dumps(envelope).encode(),
        properties=pika.BasicProperties(
            content_type="application/json",
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=envelope["id"],
            headers={"x-original-routing-key": envelope["type"], "x-loopgate-error": error},
        ),
        mandatory=True,
    )


def count(channel, queue: str) -> int:
    return channel.queue_declare(queue, passive=True).method.message_count


def wait_for_count(channel, queue: str, expected: int) -> None:
    """For what the broker does on its own time, such as dead-lettering a rejected message."""
    deadline = time.monotonic() + 5
    while count(channel, queue) != expected:
        assert time.monotonic() < deadline, f"{queue} never held {expected} messages"
        time.sleep(0.05)


def test_a_declared_topology_verifies_without_problems(rabbitmq_url, made_up_services):
    subscriptions = {service: [EVENT_TYPE] for service in made_up_services}

    declared = declare_topology(rabbitmq_url, subscriptions)

    assert any(queue_name(made_up_services[0]) in line for line in declared)
    assert verify_topology(rabbitmq_url, subscriptions) == []


def test_declaring_twice_changes_nothing(rabbitmq_url, service):
    declare_topology(rabbitmq_url, {service: [EVENT_TYPE]})

    assert verify_topology(rabbitmq_url, {service: [EVENT_TYPE]}) == []


def test_verify_reports_a_missing_queue(rabbitmq_url, broker, service):
    broker.queue_delete(dead_letter_queue_name(service))

    problems = verify_topology(rabbitmq_url, {service: [EVENT_TYPE]})

    assert problems == [f"queue {dead_letter_queue_name(service)} is missing"]


def test_verify_reports_a_queue_declared_with_other_arguments(
    rabbitmq_url, broker, made_up_services
):
    service = made_up_services[0]
    broker.queue_declare(queue_name(service), durable=True)  # a classic queue, no dead-lettering
    broker.queue_declare(
        dead_letter_queue_name(service), durable=True, arguments={"x-queue-type": "quorum"}
    )

    problems = verify_topology(rabbitmq_url, {service: [EVENT_TYPE]})

    assert len(problems) == 1
    assert problems[0].startswith(f"queue {queue_name(service)} is declared with other arguments")
    assert count(broker, queue_name(service)) == 0, "verifying must not replace the queue"


def test_a_dead_letter_is_listed_with_its_type_and_error_and_stays(rabbitmq_url, broker, service):
    envelope = make_envelope()
    dead_letter(broker, service, envelope, "ValidationError: data.n must be positive")

    listed = list_dead_letters(rabbitmq_url, service)

    assert listed == [
        {
            "message_id": envelope["id"],
            "type": EVENT_TYPE,
            "error": "ValidationError: data.n must be positive",
            "envelope": envelope,
        }
    ]
    assert count(broker, dead_letter_queue_name(service)) == 1
    assert list_dead_letters(rabbitmq_url, service) == listed


def test_a_message_the_broker_dead_lettered_is_listed_from_its_x_death(
    rabbitmq_url, broker, service
):
    envelope = make_envelope()
    broker.basic_publish(
        exchange=EVENTS_EXCHANGE,
        routing_key=EVENT_TYPE,
        body=json.dumps(envelope).encode(),
        properties=pika.BasicProperties(
            delivery_mode=pika.DeliveryMode.Persistent, message_id=envelope["id"]
        ),
    )
    method, _, _ = broker.basic_get(queue_name(service))
    broker.basic_reject(method.delivery_tag, requeue=False)
    wait_for_count(broker, dead_letter_queue_name(service), 1)

    [listed] = list_dead_letters(rabbitmq_url, service)

    assert listed["message_id"] == envelope["id"]
    assert listed["type"] == EVENT_TYPE
    assert "rejected" in listed["error"]


def test_a_body_that_is_not_json_is_listed_as_text(rabbitmq_url, broker, service):
    broker.basic_publish(
        exchange=DEAD_LETTER_EXCHANGE,
        routing_key=queue_name(service),
        body=b"not json",
        properties=pika.BasicProperties(
            message_id="m-1",
            headers={"x-original-routing-key": EVENT_TYPE, "x-loopgate-error": "bad JSON"},
        ),
    )

    [listed] = list_dead_letters(rabbitmq_url, service)

    assert listed["envelope"] == "not json"
    assert listed["type"] == EVENT_TYPE


def test_replay_moves_a_dead_letter_to_its_own_queue_only_and_once(
    rabbitmq_url, broker, made_up_services
):
    failing, bystander = made_up_services
    # Both subscribe to the event, so a replay through the events exchange would reach both.
    declare_topology(rabbitmq_url, {service: [EVENT_TYPE] for service in made_up_services})
    envelope = make_envelope()
    dead_letter(broker, failing, envelope, "boom")

    assert replay_dead_letters(rabbitmq_url, failing) == 1
    assert replay_dead_letters(rabbitmq_url, failing) == 0

    assert count(broker, dead_letter_queue_name(failing)) == 0
    assert count(broker, queue_name(failing)) == 1
    assert count(broker, queue_name(bystander)) == 0
    method, properties, body = broker.basic_get(queue_name(failing), auto_ack=True)
    assert json.loads(body) == envelope
    assert properties.message_id == envelope["id"]
    assert properties.content_type == "application/json"
    assert properties.delivery_mode == pika.DeliveryMode.Persistent.value


def test_replay_of_chosen_ids_leaves_the_others(rabbitmq_url, broker, service):
    chosen, left = make_envelope(), make_envelope()
    dead_letter(broker, service, chosen, "boom")
    dead_letter(broker, service, left, "boom")

    assert replay_dead_letters(rabbitmq_url, service, {chosen["id"]}) == 1

    assert count(broker, queue_name(service)) == 1
    assert [d["message_id"] for d in list_dead_letters(rabbitmq_url, service)] == [left["id"]]


def test_replay_into_a_missing_queue_keeps_the_dead_letter(rabbitmq_url, broker, service):
    dead_letter(broker, service, make_envelope(), "boom")
    broker.queue_delete(queue_name(service))

    with pytest.raises(RabbitMQAdminError):
        replay_dead_letters(rabbitmq_url, service)

    # The broker returns the unacked message when the tool's connection closes; a quorum
    # queue shows it again a few milliseconds later.
    wait_until(lambda: count(broker, dead_letter_queue_name(service)) == 1, 5, "the dead letter")


def test_an_unreachable_broker_is_one_readable_error():
    with pytest.raises(RabbitMQAdminError, match="RabbitMQ at 127.0.0.1:1/"):
        verify_topology("amqp://guest:guest@127.0.0.1:1/%2F", {})
