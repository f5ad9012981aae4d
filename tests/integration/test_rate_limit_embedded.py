"""Public registration is rate-limited per client address, with a clear 429."""

from shared.embedded import EmbeddedSystem
from shared.settings import Settings
from tests.support import ORGANISER_TOKEN, CoreFlow, ServedApp


def test_registrations_beyond_the_rate_get_429_problem_json(tmp_path):
    settings = Settings.from_env(
        {
            "LOOPGATE_DATA_DIR": str(tmp_path),
            "LOOPGATE_BOOTSTRAP_TOKEN": ORGANISER_TOKEN,
            "LOOPGATE_RATE_LIMIT": "3/minute",
        }
    )
    system = EmbeddedSystem(settings)
    system.start()
    try:
        with ServedApp(system.app) as served:
            flow = CoreFlow(served.url)
            event_id, ticket_type_id = flow.published_event(quota=10)
            codes = [flow.register(event_id, ticket_type_id).status_code for _ in range(4)]
            limited = flow.register(event_id, ticket_type_id)
            # Reading and organiser routes are not limited.
            assert flow.get(f"/api/registration/events/{event_id}").status_code == 200
    finally:
        system.stop()
    assert codes == [201, 201, 201, 429]
    assert limited.status_code == 429
    assert limited.headers["Content-Type"] == "application/problem+json"
    assert limited.json()["type"] == "urn:loopgate:problem:rate-limited"
    assert "Retry-After" in limited.headers
