"""What the bus promises: a broker restart loses nothing, a redelivery duplicates nothing."""

import json
import shutil
import subprocess
import threading
import time
import uuid

import pika
import pytest

from shared.bus.topology import EVENTS_EXCHANGE
from shared.rabbitmq_admin import connection_parameters
from tests.conftest import REQUIRED
from tests.integration.distributed import wait_for_rabbitmq
from tests.support import CoreFlow, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def rabbitmqctl():
    path = shutil.which("rabbitmqctl")
    if path is None:
        message = "rabbitmqctl is needed to stop and start the broker"
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)

    def run(*args):
        subprocess.run([path, *args], check=True, capture_output=True, timeout=120)

    yield run
    run("start_app")  # never leave the broker stopped, whatever happened


def test_every_registration_gets_exactly_one_ticket_across_a_broker_restart(
    flow, distributed, rabbitmqctl
):
    event_id, ticket_type_id = flow.published_event(quota=10_000)
    made: list[tuple[float, dict]] = []
    failures: list[str] = []
    stop = threading.Event()

    def keep_registering():
        client = CoreFlow(distributed.url)
        while not stop.is_set():
            response = client.register(event_id, ticket_type_id)
            if response.status_code == 201:
                made.append((time.monotonic(), response.json()))
            else:
                failures.append(f"{response.status_code} {response.text[:200]}")
            time.sleep(0.02)

    registering = threading.Thread(target=keep_registering)
    registering.start()
    try:
        time.sleep(2)
        outage_started = time.monotonic()
        rabbitmqctl("stop_app")
        time.sleep(4)
        rabbitmqctl("start_app")
        outage_ended = time.monotonic()
        wait_for_rabbitmq(distributed.broker_url)
        time.sleep(2)
    finally:
        stop.set()
        registering.join(30)

    during_outage = [r for at, r in made if outage_started <= at <= outage_ended]
    assert failures == [], "a registration failed while the broker was down"
    assert during_outage, "no registration was made while the broker was down"
    registration_ids = {registration["id"] for _, registration in made}

    def tickets_of_event():
        return distributed.scalar(
            "ticketing", "SELECT count(*) FROM tickets WHERE event_id = :event", event=event_id
        )

    wait_until(lambda: tickets_of_event() >= len(registration_ids), 90, "every ticket")
    time.sleep(1)  # anything duplicated would arrive now
    tickets = tickets_of_event()
    distinct = distributed.scalar(
        "ticketing",
        "SELECT count(DISTINCT registration_id) FROM tickets WHERE event_id = :event",
        event=event_id,
    )
    wait_until(
        lambda: (
            distributed.scalar(
                "checkin", "SELECT count(*) FROM tickets WHERE event_id = :event", event=event_id
            )
            == tickets
        ),
        60,
        "every ticket in the check-in roster",
    )
    unsent = {
        name: distributed.scalar(name, "SELECT count(*) FROM outbox WHERE sent_at IS NULL")
        for name in distributed.engines
    }
    print(
        f"\nbroker restart: {len(registration_ids)} registrations "
        f"({len(during_outage)} while the broker was down), {tickets} tickets, "
        f"{distinct} distinct registrations ticketed, unsent outbox rows {unsent}"
    )
    assert tickets == distinct == len(registration_ids)
    assert set(unsent.values()) == {0}


def test_a_redelivered_registration_event_makes_no_second_ticket(flow, distributed):
    event_id, ticket_type_id = flow.published_event()
    registration = flow.registered(event_id, ticket_type_id)
    flow.wait_for_ticket(registration, timeout=10)
    envelope = json.loads(
        distributed.scalar(
            "registration",
            "SELECT envelope::text FROM outbox WHERE event_type = 'registration.confirmed' "
            "AND envelope->'data'->>'registration_id' = :registration",
            registration=registration["id"],
        )
    )
    # The same message twice (a redelivery), and the same fact under a new event id (a
    # producer that published again after losing its confirm).
    republished = {**envelope, "id": str(uuid.uuid4())}
    connection = pika.BlockingConnection(connection_parameters(distributed.broker_url))
    channel = connection.channel()
    channel.confirm_delivery()
    for message in (envelope, envelope, republished):
        channel.basic_publish(
            EVENTS_EXCHANGE,
            "registration.confirmed",
            json.dumps(message).encode(),
            pika.BasicProperties(
                content_type="application/json", delivery_mode=2, message_id=message["id"]
            ),
        )
    connection.close()

    wait_until(
        lambda: distributed.scalar(
            "ticketing", "SELECT count(*) FROM inbox WHERE event_id = :id", id=republished["id"]
        ),
        15,
        "ticketing to process the republished event",
    )
    tickets = distributed.scalar(
        "ticketing",
        "SELECT count(*) FROM tickets WHERE registration_id = :registration",
        registration=registration["id"],
    )
    issued = distributed.scalar(
        "ticketing",
        "SELECT count(*) FROM outbox WHERE event_type = 'ticket.issued' "
        "AND envelope->'data'->>'registration_id' = :registration",
        registration=registration["id"],
    )
    print(f"\nredelivery: 3 extra deliveries -> {tickets} ticket, {issued} ticket.issued event")
    assert tickets == 1
    assert issued == 1
