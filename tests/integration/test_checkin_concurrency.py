"""Two doors scanning the same ticket at the same moment get exactly one `ok`, decided by
PostgreSQL's unique admission row, not by a lock in Python (docs/architecture.md,
"Check-in verdicts"). Each door is a thread with its own HTTP client, against the check-in
app served on a real port over its own database."""

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy.engine import make_url

from services.checkin.app import create_app
from shared.auth import DEFAULT_ORGANISATION
from shared.runtime import ServiceRuntime
from shared.services import definition
from shared.settings import Settings
from tests.support import ORGANISER_TOKEN, ServedApp
from tests.unit.domain_fixtures import Door

pytestmark = pytest.mark.integration

DATABASE = "loopgate_checkin_concurrency_test"
TICKETS = 25
DOORS = 4


@pytest.fixture(scope="module")
def checkin_on_postgres(postgres_url, tmp_path_factory):
    url = make_url(postgres_url).set(database=DATABASE).render_as_string(hide_password=False)
    settings = Settings.from_env(
        {
            "LOOPGATE_CHECKIN_DATABASE_URL": url,
            "LOOPGATE_DATA_DIR": str(tmp_path_factory.mktemp("checkin")),
            "LOOPGATE_BOOTSTRAP_TOKEN": ORGANISER_TOKEN,
        }
    )
    runtime = ServiceRuntime(definition("checkin"), settings)
    runtime.prepare()
    try:
        with ServedApp(create_app(runtime=runtime)) as served:
            yield runtime, served.url
    finally:
        runtime.dispose()


def race(url: str, payload: str, list_id: str) -> list[str]:
    """DOORS doors scan `payload` at once, each with its own HTTP connection."""
    start = threading.Barrier(DOORS)
    verdicts = []

    def door():
        with requests.Session() as http:
            http.get(f"{url}/api/checkin/healthz", timeout=10)  # connected before the race
            start.wait()
            response = http.post(
                f"{url}/api/checkin/scans",
                json={"payload": payload, "scan_id": uuid.uuid4().hex, "list_id": list_id},
                headers={"Authorization": f"Bearer {ORGANISER_TOKEN}"},
                timeout=30,
            )
            verdicts.append(response.json()["verdict"])

    threads = [threading.Thread(target=door) for _ in range(DOORS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return verdicts


@pytest.mark.parametrize("reentry", ["once", "daily", "unlimited"])
def test_doors_racing_for_one_ticket_admit_it_exactly_once(checkin_on_postgres, reentry):
    runtime, url = checkin_on_postgres
    door = Door(runtime)
    now = datetime.now(UTC).replace(microsecond=0)
    event = door.event(
        organisation_id=DEFAULT_ORGANISATION,
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(hours=3),
    )
    gate = door.add_list(event, f"Gate ({reentry})", reentry=reentry)
    tickets = [door.issue(event) for _ in range(TICKETS)]

    for ticket in tickets:
        verdicts = race(url, ticket.payload, gate)

        assert sorted(verdicts) == ["already_checked_in"] * (DOORS - 1) + ["ok"], verdicts
