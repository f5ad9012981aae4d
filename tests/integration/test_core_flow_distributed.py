"""The core flow on the distributed topology: RabbitMQ, PostgreSQL, gunicorn, workers."""

import io

import pytest
import zxingcpp
from PIL import Image

pytestmark = pytest.mark.integration


def test_a_registration_becomes_a_ticket_that_scans_once(flow):
    event_id, ticket_type_id = flow.published_event(quota=2)
    registration = flow.registered(event_id, ticket_type_id, name="Chan Tai Man 陳大文")
    assert registration["status"] == "confirmed"

    ticket = flow.wait_for_ticket(registration, timeout=5)
    flow.wait_until_in_roster(ticket["id"], timeout=5)

    assert flow.scan(ticket["payload"])["verdict"] == "ok"
    again = flow.scan(ticket["payload"])
    assert again["verdict"] == "already_checked_in"
    assert again["previous"]["gate"] == "Main entrance"
    altered = ticket["payload"][:-3] + ("AAA" if not ticket["payload"].endswith("AAA") else "BBB")
    assert flow.scan(altered)["verdict"] == "invalid"


def test_the_qr_image_decodes_to_a_payload_that_scans_ok(flow):
    event_id, ticket_type_id = flow.published_event()
    ticket = flow.wait_for_ticket(flow.registered(event_id, ticket_type_id), timeout=5)
    flow.wait_until_in_roster(ticket["id"], timeout=5)

    image = flow.http.get(flow.url(ticket["qr_png_url"]), timeout=10)  # no Authorization
    assert image.status_code == 200
    assert image.headers["Content-Type"] == "image/png"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(image.content)))
    assert [code.text for code in decoded] == [ticket["payload"]]
    assert flow.scan(decoded[0].text)["verdict"] == "ok"


def test_quota_and_waitlist_hold_across_processes(flow, distributed):
    event_id, ticket_type_id = flow.published_event(quota=3)
    statuses = sorted(flow.registered(event_id, ticket_type_id)["status"] for _ in range(5))
    assert statuses == ["confirmed"] * 3 + ["waitlisted"] * 2
    confirmed = distributed.scalar(
        "registration",
        "SELECT count(*) FROM registrations WHERE event_id = :event AND status = 'confirmed'",
        event=event_id,
    )
    assert confirmed == 3


def test_cancelling_makes_the_next_scan_revoked(flow, distributed):
    event_id, ticket_type_id = flow.published_event(quota=1)
    registration = flow.registered(event_id, ticket_type_id)
    waiting = flow.registered(event_id, ticket_type_id)
    ticket = flow.wait_for_ticket(registration, timeout=5)
    flow.wait_until_in_roster(ticket["id"], timeout=5)

    assert flow.cancel(registration).json()["status"] == "cancelled"
    from tests.support import wait_until

    wait_until(
        lambda: flow.roster_ticket(ticket["id"]).json()["status"] == "revoked", 5, "revocation"
    )
    assert flow.scan(ticket["payload"])["verdict"] == "revoked"
    promoted_ticket = flow.wait_for_ticket(waiting, timeout=5)
    assert promoted_ticket["status"] == "valid"


def test_each_service_exposes_metrics_summed_over_its_processes(flow):
    event_id, ticket_type_id = flow.published_event()
    ticket = flow.wait_for_ticket(flow.registered(event_id, ticket_type_id), timeout=5)
    flow.wait_until_in_roster(ticket["id"], timeout=5)
    flow.scan(ticket["payload"])
    flow.scan(ticket["payload"])

    from tests.support import wait_until

    def sample(service: str, prefix: str) -> float:
        text = flow.get(f"/api/{service}/metrics").text
        return sum(
            float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix)
        )

    # Relayed by the worker process, read through a web process: the counters are shared.
    assert (
        sample(
            "registration",
            'loopgate_events_published_total{service="registration",type="registration.confirmed"',
        )
        >= 1
    )
    assert wait_until(
        lambda: sample(
            "checkin",
            'loopgate_events_published_total{service="checkin",'
            'type="checkin.recorded",verdict="already_checked_in"}',
        ),
        5,
        "the scan verdicts in check-in's metrics",
    )
    assert (
        sample("checkin", 'loopgate_http_request_seconds_count{endpoint="/api/checkin/scans"') >= 2
    )
    for service in ("registration", "ticketing", "checkin"):
        text = flow.get(f"/api/{service}/metrics").text
        assert f'loopgate_outbox_backlog{{service="{service}"}}' in text
        assert f'loopgate_dead_letters{{service="{service}"}}' in text
