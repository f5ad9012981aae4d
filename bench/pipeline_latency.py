"""Time from registration to an ok-scannable ticket, in embedded and distributed mode.

For each registration: POST the registration, then poll until ticketing has issued the
ticket and check-in has it in its roster (a scan would answer `ok`). Prints p50/p99 next to
the round trip of a bare health check measured in the same run, since the machines are
shared and only ratios within one run compare. Distributed mode needs the local RabbitMQ and
PostgreSQL; without them it is skipped with a message.
"""

import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support import ORGANISER_TOKEN, CoreFlow, listening  # noqa: E402

REGISTRATIONS = 200
RESULTS = ROOT / "bench" / "results"


def measure(flow: CoreFlow) -> dict:
    event_id, ticket_type_id = flow.published_event(quota=REGISTRATIONS)
    health = []
    for _ in range(50):
        started = time.perf_counter()
        flow.get("/api/checkin/healthz")
        health.append(time.perf_counter() - started)
    latencies = []
    for _ in range(REGISTRATIONS):
        started = time.perf_counter()
        registration = flow.registered(event_id, ticket_type_id)
        ticket = _poll(flow.ticket, registration)
        _poll(flow.roster_ticket, ticket["id"])
        latencies.append(time.perf_counter() - started)
        time.sleep(0.01)  # a steady rate, not a burst
    return {
        "registrations": REGISTRATIONS,
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(statistics.quantiles(latencies, n=100)[98] * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
        "health_round_trip_ms": round(statistics.median(health) * 1000, 2),
    }


def _poll(request, argument, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = request(argument)
        if response.status_code == 200:
            return response.json()
        time.sleep(0.002)
    raise TimeoutError("pipeline did not deliver in time")


def embedded() -> dict:
    from services.system import embedded_system
    from shared.embedded import HttpServer
    from shared.settings import Settings

    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings.from_env(
            {
                "LOOPGATE_DATA_DIR": data_dir,
                "LOOPGATE_BOOTSTRAP_TOKEN": ORGANISER_TOKEN,
                "LOOPGATE_RATE_LIMIT": "off",
            }
        )
        system = embedded_system(settings)
        system.start()
        try:
            # The server `make run` serves on, its access log (a line a request) left out.
            logging.getLogger("loopgate.access").disabled = True
            with HttpServer(system.app, "127.0.0.1", 0) as served:
                return measure(CoreFlow(f"http://127.0.0.1:{served.port}"))
        finally:
            system.stop()


def distributed() -> dict | None:
    for port, name in ((5672, "RabbitMQ"), (5432, "PostgreSQL")):
        if not listening(port):
            print(f"distributed: skipped ({name} is not reachable on 127.0.0.1:{port})")
            return None
    from tests.conftest import POSTGRES_URL, RABBITMQ_URL
    from tests.integration.distributed import DistributedLoopgate

    with tempfile.TemporaryDirectory() as data_dir:
        system = DistributedLoopgate(RABBITMQ_URL, POSTGRES_URL, Path(data_dir))
        system.start()
        try:
            return measure(CoreFlow(system.url))
        finally:
            system.stop()


def main() -> None:
    results = {"embedded": embedded(), "distributed": distributed()}
    print("\nregistration -> ok-scannable ticket")
    print(f"{'mode':<12}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'health ms':>11}{'p50/health':>12}")
    for mode, figures in results.items():
        if figures is None:
            continue
        ratio = figures["p50_ms"] / figures["health_round_trip_ms"]
        print(
            f"{mode:<12}{figures['p50_ms']:>9}{figures['p99_ms']:>9}{figures['max_ms']:>9}"
            f"{figures['health_round_trip_ms']:>11}{ratio:>12.1f}"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "pipeline_latency.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
