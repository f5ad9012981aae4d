"""Ticketing's rates, embedded (SQLite, memory bus), one process on this machine.

- Issued through the consumer: registration.confirmed events put on the bus in one burst,
  timed until the ticketing worker has issued them all (signed, stored, ticket.issued and
  the mail queued, one transaction each); then until every ticket's QR code is rendered and
  stored and its mail written (the mail relay, in the same worker).
- QR serve rate: one ticket's image URL fetched again and again over real HTTP, the images
  coming from storage; next to it, what rendering the images from scratch would allow.

Prints a table and saves the figures to bench/results/ticketing_rates.json. Like every
figure here, compare ratios within one run: the machines are shared.
"""

import json
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from kombu import Producer  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from services.system import definition, subscriptions  # noqa: E402
from services.ticketing.mail.outbox import SENT  # noqa: E402
from services.ticketing.models import EventInfo, OutgoingMail, Ticket  # noqa: E402
from services.ticketing.qr_codes import qr_images, qr_version  # noqa: E402
from services.ticketing.ticket_secrets import url_key  # noqa: E402
from shared.bus.broker import broker_connection  # noqa: E402
from shared.bus.events import make_envelope  # noqa: E402
from shared.bus.outbox import publish_envelope  # noqa: E402
from shared.runtime import ServiceRuntime  # noqa: E402
from shared.settings import Settings  # noqa: E402
from shared.worker import ServiceWorker  # noqa: E402
from tests.support import ServedApp  # noqa: E402

TICKETS = 300
IMAGE_REQUESTS = 1000
RENDERS = 20
RESULTS = ROOT / "bench" / "results"


def issue_through_the_consumer(runtime: ServiceRuntime) -> dict:
    event_id = uuid.uuid4()
    ticket_type_id = uuid.uuid4()
    starts_at = datetime.now(UTC) + timedelta(days=7)
    with broker_connection(runtime.settings.broker_url) as connection:
        producer = Producer(connection.default_channel)
        _publish(
            producer,
            "event.published",
            {
                "event_id": event_id,
                "organisation_id": "default",
                "title": "Bench Night 測試夜",
                "starts_at": starts_at,
                "ends_at": starts_at + timedelta(hours=4),
                "timezone": "Asia/Hong_Kong",
                "venue": "Hall A",
                "early_entry_minutes": 60,
                "status": "published",
                "ticket_types": [{"id": ticket_type_id, "name": "General"}],
            },
        )
        _wait_for(runtime, select(func.count()).select_from(EventInfo), 1)  # the event first
        started = time.perf_counter()
        for number in range(TICKETS):
            _publish(
                producer,
                "registration.confirmed",
                {
                    "registration_id": uuid.uuid4(),
                    "event_id": event_id,
                    "ticket_type_id": ticket_type_id,
                    "attendee": {"name": f"Guest {number}", "email": f"guest{number}@example.com"},
                    "manage_token_sha256": "ab" * 32,
                },
            )
    issued = _wait_for(runtime, select(func.count()).select_from(Ticket), TICKETS) - started
    mailed = (
        _wait_for(
            runtime,
            select(func.count()).select_from(OutgoingMail).where(OutgoingMail.status == SENT),
            TICKETS,
        )
        - started
    )
    return {
        "tickets": TICKETS,
        "issued_per_second": round(TICKETS / issued, 1),
        "issued_rendered_and_mailed_per_second": round(TICKETS / mailed, 1),
    }


def serve_images(runtime: ServiceRuntime) -> dict:
    with runtime.session_factory() as session:
        ticket = session.scalars(select(Ticket).limit(1)).one()
    rates = {}
    with ServedApp(definition("ticketing").app_factory(runtime=runtime)) as served:
        http = requests.Session()
        key = url_key(runtime.secret_box, ticket.id)
        image = f"{served.url}/api/ticketing/tickets/{ticket.id}/qr.{{}}?key={key}"
        for name, url in [
            ("png", image.format("png")),
            ("svg", image.format("svg")),
            # What the same server answers for nothing at all: the yardstick for the others.
            ("healthz", f"{served.url}/api/ticketing/healthz"),
        ]:
            assert http.get(url, timeout=10).status_code == 200
            started = time.perf_counter()
            for _ in range(IMAGE_REQUESTS):
                response = http.get(url, timeout=10)
                assert response.status_code == 200 and response.content
            rates[f"{name}_served_per_second"] = round(
                IMAGE_REQUESTS / (time.perf_counter() - started)
            )
    started = time.perf_counter()
    for _ in range(RENDERS):
        qr_images(ticket.payload)
    rates["rendered_from_scratch_per_second"] = round(RENDERS / (time.perf_counter() - started), 1)
    rates["payload_characters"] = len(ticket.payload)
    rates["qr_version"] = qr_version(ticket.payload)
    return rates


def _publish(producer: Producer, event_type: str, data: dict) -> None:
    publish_envelope(producer, make_envelope(event_type, data, "bench", None))


def _wait_for(runtime: ServiceRuntime, count_query, expected: int, timeout: float = 300) -> float:
    """When `count_query` first counts `expected` (perf_counter time)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with runtime.session_factory() as session:
            if session.scalar(count_query) >= expected:
                return time.perf_counter()
        time.sleep(0.01)
    raise TimeoutError(f"still short of {expected} after {timeout}s")


def main() -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings.from_env({"LOOPGATE_DATA_DIR": data_dir})
        runtime = ServiceRuntime(definition("ticketing"), settings)
        runtime.prepare()
        worker = ServiceWorker(runtime, subscriptions())
        worker.start()
        worker.wait_until_consuming()
        try:
            issuing = issue_through_the_consumer(runtime)
        finally:
            worker.stop()
        try:
            images = serve_images(runtime)  # the worker stopped: only the web app at work
        finally:
            runtime.dispose()
    results = {"issuing": issuing, "qr_images": images}

    print("\nticketing (embedded: SQLite, memory bus)")
    rows = [
        ("tickets issued by the consumer", issuing["issued_per_second"], "/s"),
        (
            "  ... with QR rendered and mail written",
            issuing["issued_rendered_and_mailed_per_second"],
            "/s",
        ),
        ("stored QR PNG served over HTTP", images["png_served_per_second"], "/s"),
        ("stored QR SVG served over HTTP", images["svg_served_per_second"], "/s"),
        ("  (healthz on the same server)", images["healthz_served_per_second"], "/s"),
        ("QR rendered from scratch (PNG + SVG)", images["rendered_from_scratch_per_second"], "/s"),
        ("token length (QR alphanumeric)", images["payload_characters"], " chars"),
        ("QR version at error correction M", images["qr_version"], ""),
    ]
    for label, value, unit in rows:
        print(f"  {label:<42}{value:>9}{unit}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ticketing_rates.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
