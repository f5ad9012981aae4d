"""No overselling, ever: 1,000 concurrent registrations for 500 places give exactly 500
confirmed and 500 waitlisted, on SQLite (embedded) and on PostgreSQL (the registration app
served by a threaded server). The database serialises the race (conditional UPDATE;
BEGIN IMMEDIATE on SQLite), not a Python lock."""

import pytest
from sqlalchemy.engine import make_url

from tests.race import places_sold, race
from tests.support import ORGANISER_TOKEN, CoreFlow, ServedApp

PLACES, REQUESTS, CLIENTS = 500, 1000, 50


def assert_no_overselling(flow: CoreFlow, runtime, event_id: str, ticket_type_id: str, result):
    assert dict(result.statuses) == {"confirmed": PLACES, "waitlisted": REQUESTS - PLACES}
    confirmed, counter = places_sold(runtime, event_id, ticket_type_id)
    assert confirmed == counter == PLACES
    event = flow.get(f"/api/registration/events/{event_id}").json()
    assert event["ticket_types"][0]["remaining"] == 0


def test_a_ticket_drop_on_sqlite_never_oversells(embedded):
    event_id, ticket_type_id = embedded.published_event(quota=PLACES)

    result = race(embedded.base_url, event_id, ticket_type_id, REQUESTS, CLIENTS)

    runtime = embedded.system.runtimes["registration"]
    assert_no_overselling(embedded, runtime, event_id, ticket_type_id, result)


@pytest.fixture
def registration_on_postgres(postgres_url, tmp_path):
    from sqlalchemy import create_engine

    from services.registration.app import DEFINITION, create_app
    from shared.runtime import ServiceRuntime
    from shared.settings import Settings

    url = make_url(postgres_url).set(database="loopgate_registration_concurrency_test")
    server = create_engine(make_url(postgres_url), isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
    server.dispose()
    settings = Settings.from_env(
        {
            "LOOPGATE_REGISTRATION_DATABASE_URL": url.render_as_string(hide_password=False),
            "LOOPGATE_DATA_DIR": str(tmp_path),
            "LOOPGATE_BOOTSTRAP_TOKEN": ORGANISER_TOKEN,
            "LOOPGATE_RATE_LIMIT": "off",
        }
    )
    runtime = ServiceRuntime(DEFINITION, settings)
    runtime.prepare()
    try:
        with ServedApp(create_app(runtime=runtime)) as served:
            flow = CoreFlow(served.url)
            flow.runtime = runtime
            yield flow
    finally:
        runtime.dispose()


@pytest.mark.integration
def test_a_ticket_drop_on_postgresql_never_oversells(registration_on_postgres):
    flow = registration_on_postgres
    event_id, ticket_type_id = flow.published_event(quota=PLACES)

    result = race(flow.base_url, event_id, ticket_type_id, REQUESTS, CLIENTS)

    assert_no_overselling(flow, flow.runtime, event_id, ticket_type_id, result)
