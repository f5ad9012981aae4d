"""Two doors scanning the same ticket at the same moment get exactly one `ok`, decided by
PostgreSQL's unique admission row, not by a lock in Python (docs/architecture.md,
"Check-in verdicts"). Each door is a thread with its own HTTP client, against the check-in
app served on a real port over its own database. And what one scan asks of PostgreSQL: one
read and one write."""

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from services.checkin.app import create_app
from services.checkin.models import Admission, Scan
from services.system import definition
from shared.auth import DEFAULT_ORGANISATION
from shared.runtime import ServiceRuntime
from shared.settings import Settings
from tests.support import ORGANISER_TOKEN, ServedApp, statements_sent
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


def admissions_of(runtime, ticket) -> int:
    with runtime.session_factory() as session:
        admitted = select(func.count()).where(Admission.ticket_id == str(ticket.id))
        return session.scalar(admitted)


def scans_with_id(runtime, scan_id: str) -> int:
    with runtime.session_factory() as session:
        return session.scalar(select(func.count()).where(Scan.scan_id == scan_id))


def recorded_events(runtime) -> list[dict]:
    """The data of every checkin.recorded in the outbox."""
    outbox = runtime.tables.outbox
    with runtime.session_factory() as session:
        envelopes = session.scalars(
            select(outbox.c.envelope).where(outbox.c.event_type == "checkin.recorded")
        )
        return [envelope["data"] for envelope in envelopes]


def test_an_online_scan_reads_once_and_writes_once(checkin_on_postgres):
    """Guards performance: the ticket with everything its verdict needs in one SELECT; the
    admission, the scan and its checkin.recorded event in one INSERT (the others in its WITH
    clauses). The event's signing key is read at most once a second per process
    (door_keys.KEY_RECHECK_SECONDS): the first scan of the door's day reads it."""
    runtime, _url = checkin_on_postgres
    door = Door(runtime)
    event = door.event()
    first, ticket = door.issue(event), door.issue(event)
    door.scan(first.payload)
    answers = []

    statements = statements_sent(runtime.engine, lambda: answers.append(door.scan(ticket.payload)))

    assert answers[0]["verdict"] == "ok"
    assert statements == ["SELECT", "WITH"]
    assert admissions_of(runtime, ticket) == 1
    assert answers[0]["scan_id"] in [data["scan_id"] for data in recorded_events(runtime)]


def test_a_scan_sent_again_answers_its_first_answer_and_is_recorded_once(checkin_on_postgres):
    """The second request's INSERT meets the scan's primary key, and its event goes with it
    (one statement); the door then looks the first answer up instead of judging the ticket
    again (which would now say already_checked_in)."""
    runtime, _url = checkin_on_postgres
    door = Door(runtime)
    ticket = door.issue(door.event())
    scan_id = f"retried-{uuid.uuid4()}"

    first = door.scan(ticket.payload, scan_id=scan_id)
    again = door.scan(ticket.payload, scan_id=scan_id)

    assert first["verdict"] == "ok"
    assert again == first
    assert scans_with_id(runtime, scan_id) == 1
    assert admissions_of(runtime, ticket) == 1
    assert [data["scan_id"] for data in recorded_events(runtime)].count(scan_id) == 1
