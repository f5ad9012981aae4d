"""A message that keeps failing is retried a bounded number of times, then parked in the
service's dead-letter queue, where the operator's tool lists it and replays it once fixed."""

import json
import subprocess
import uuid
from datetime import UTC, datetime, timedelta

import pika
import pytest

from shared.bus.events import make_envelope
from shared.bus.topology import EVENTS_EXCHANGE, MAX_DELIVERY_ATTEMPTS
from shared.rabbitmq_admin import connection_parameters
from tests.integration.distributed import BIN, ROOT
from tests.support import wait_until

pytestmark = pytest.mark.integration


def _publish(distributed, envelope_or_body, routing_key: str) -> None:
    connection = pika.BlockingConnection(connection_parameters(distributed.broker_url))
    channel = connection.channel()
    channel.confirm_delivery()
    body = envelope_or_body if isinstance(envelope_or_body, bytes) else json.dumps(envelope_or_body)
    channel.basic_publish(
        EVENTS_EXCHANGE,
        routing_key,
        body,
        pika.BasicProperties(
            content_type="application/json", delivery_mode=2, message_id=str(uuid.uuid4())
        ),
    )
    connection.close()


def _loopgate(distributed, *args) -> str:
    result = subprocess.run(
        [BIN / "loopgate", "--log-level", "WARNING", *args],
        env=distributed.env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.stdout


def _dead_letters(distributed, service: str) -> list[dict]:
    output = _loopgate(distributed, "dead-letters", "list", service)
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_a_poison_message_is_dead_lettered_after_bounded_retries_and_replayed_once_fixed(
    distributed,
):
    event_id = str(uuid.uuid4())
    registration_id = str(uuid.uuid4())
    # A confirmation for an event ticketing has never heard of cannot be ticketed yet.
    confirmed = make_envelope(
        "registration.confirmed",
        {
            "registration_id": registration_id,
            "event_id": event_id,
            "ticket_type_id": str(uuid.uuid4()),
            "attendee": {"name": "Late Event", "email": "late@example.com"},
            "manage_token_sha256": "0" * 64,
        },
        "test",
        None,
    )
    _publish(distributed, confirmed, "registration.confirmed")

    parked = wait_until(
        lambda: [
            m
            for m in _dead_letters(distributed, "ticketing")
            if m["envelope"].get("id") == confirmed["id"]
        ],
        60,
        f"the message to be dead-lettered after {MAX_DELIVERY_ATTEMPTS} attempts",
        interval=0.5,
    )
    assert parked[0]["type"] == "registration.confirmed"
    assert "EventNotKnownYet" in parked[0]["error"]
    assert (
        distributed.scalar(
            "ticketing",
            "SELECT count(*) FROM tickets WHERE registration_id = :r",
            r=registration_id,
        )
        == 0
    )

    # The fix: the event becomes known. Then the operator replays the parked message.
    starts_at = datetime.now(UTC) + timedelta(hours=1)
    _publish(
        distributed,
        make_envelope(
            "event.published",
            {
                "event_id": event_id,
                "organisation_id": "default",
                "title": "Replayed",
                "starts_at": starts_at,
                "ends_at": starts_at + timedelta(hours=3),
                "timezone": "Asia/Hong_Kong",
                "venue": "",
                "early_entry_minutes": 120,
                "status": "published",
                "ticket_types": [],
            },
            "test",
            None,
        ),
        "event.published",
    )
    wait_until(
        lambda: distributed.scalar(
            "ticketing", "SELECT count(*) FROM events WHERE id = :e", e=event_id
        ),
        15,
        "the event to reach ticketing",
    )
    output = _loopgate(
        distributed, "dead-letters", "replay", "ticketing", "--id", parked[0]["message_id"]
    )
    assert "replayed 1" in output
    wait_until(
        lambda: distributed.scalar(
            "ticketing",
            "SELECT count(*) FROM tickets WHERE registration_id = :r",
            r=registration_id,
        ),
        15,
        "the replayed confirmation to be ticketed",
    )
    assert not [
        m
        for m in _dead_letters(distributed, "ticketing")
        if m["envelope"].get("id") == confirmed["id"]
    ]


def test_a_message_breaking_the_contract_is_dead_lettered_at_once(distributed):
    _publish(distributed, b'{"type": "ticket.issued", "data": "not an envelope"}', "ticket.issued")
    parked = wait_until(
        lambda: [
            m for m in _dead_letters(distributed, "checkin") if "contract" in (m["error"] or "")
        ],
        15,
        "the malformed message in check-in's dead-letter queue",
        interval=0.5,
    )
    assert parked
