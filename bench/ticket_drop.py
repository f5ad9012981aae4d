"""A ticket drop timed: 1,000 registrations for 500 places from 8 concurrent clients against
the registration service under gunicorn on PostgreSQL (database loopgate_registration_bench,
made afresh). Prints confirmed registrations per minute, p50/p99 latency and how many places
were oversold (must be 0), next to a bare Flask endpoint under the same gunicorn settings in
the same run: the machines are shared, so the ratio is what compares across runs.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import POSTGRES_URL  # noqa: E402
from tests.race import places_sold, race  # noqa: E402
from tests.support import ORGANISER_TOKEN, CoreFlow, free_ports, listening  # noqa: E402

PLACES, REQUESTS, CLIENTS = 500, 1000, 8
DATABASE = "loopgate_registration_bench"
# As the Procfile runs the registration service (LOOPGATE_WEB_WORKERS processes of 4 threads).
GUNICORN = ["--workers", os.environ.get("LOOPGATE_WEB_WORKERS", "2"), "--threads", "4"]
RESULTS = ROOT / "bench" / "results"


def fresh_database() -> str:
    url = make_url(POSTGRES_URL).set(database=DATABASE)
    server = create_engine(make_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    server.dispose()
    return url.render_as_string(hide_password=False)


class Gunicorn:
    def __init__(self, app: str, environ: dict):
        (self.port,) = free_ports()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            str(Path(sys.executable).parent / "gunicorn"),
            app,
            "--bind",
            f"127.0.0.1:{self.port}",
        ]
        self._process = subprocess.Popen(
            [*command, *GUNICORN],
            cwd=ROOT,
            env={**os.environ, **environ},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def __enter__(self):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(self.url + "/", timeout=5)
                return self
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not start on {self.url}")

    def __exit__(self, *exc_info):
        self._process.terminate()
        self._process.wait(10)

    def cpu_seconds(self) -> float:
        """User and system CPU of the gunicorn master and its workers so far (/proc): what
        a request costs the server, whatever else the shared machine is running."""
        pid = self._process.pid
        workers = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        stats = [
            Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split() for p in [pid, *workers]
        ]
        return sum(int(stat[11]) + int(stat[12]) for stat in stats) / os.sysconf("SC_CLK_TCK")

    def race(self, *args) -> tuple:
        """bench's race against this server, and the server CPU it cost."""
        before = self.cpu_seconds()
        result = race(self.url, *args)
        return result, self.cpu_seconds() - before


def figures(result, cpu_seconds: float, places_sold: int | None = None) -> dict:
    return {
        "requests": sum(result.statuses.values()),
        "answers": dict(result.statuses),
        "requests_per_minute": round(sum(result.statuses.values()) / result.elapsed * 60),
        "confirmed_per_minute": (
            round(result.statuses["confirmed"] / result.last_confirmed * 60)
            if result.statuses["confirmed"]
            else None
        ),
        "p50_ms": round(result.percentile(0.50) * 1000, 1),
        "p99_ms": round(result.percentile(0.99) * 1000, 1),
        "oversold": None if places_sold is None else max(places_sold - PLACES, 0),
        "server_cpu_ms_per_request": round(cpu_seconds * 1000 / sum(result.statuses.values()), 2),
    }


def registration_drop(data_dir: str) -> dict:
    from services.registration.app import DEFINITION
    from shared.runtime import ServiceRuntime
    from shared.settings import Settings

    environ = {
        "LOOPGATE_REGISTRATION_DATABASE_URL": fresh_database(),
        "LOOPGATE_DATA_DIR": data_dir,
        "LOOPGATE_BOOTSTRAP_TOKEN": ORGANISER_TOKEN,
        "LOOPGATE_RATE_LIMIT": "off",
    }
    runtime = ServiceRuntime(DEFINITION, Settings.from_env(environ))
    runtime.prepare()
    try:
        with Gunicorn("services.registration.app:create_app()", environ) as served:
            flow = CoreFlow(served.url)
            warm_up = flow.published_event(quota=50)
            race(served.url, *warm_up, 100, CLIENTS)
            event_id, ticket_type_id = flow.published_event(quota=PLACES)
            result, cpu = served.race(event_id, ticket_type_id, REQUESTS, CLIENTS)
        confirmed, counter = places_sold(runtime, event_id, ticket_type_id)
        return figures(result, cpu, max(confirmed, counter))
    finally:
        runtime.dispose()


def bare_flask() -> dict:
    with Gunicorn("bench.bare_app:create_app()", {}) as served:
        race(served.url, "warm-up", "x", 100, CLIENTS)
        return figures(*served.race("drop", "x", REQUESTS, CLIENTS))


def main() -> None:
    if not listening(5432):
        print("ticket drop: skipped (PostgreSQL is not reachable on 127.0.0.1:5432)")
        return
    with tempfile.TemporaryDirectory() as data_dir:
        results = {"registration": registration_drop(data_dir), "bare_flask": bare_flask()}
    registration, bare = results["registration"], results["bare_flask"]
    results["ratio_to_bare_flask"] = round(
        registration["requests_per_minute"] / bare["requests_per_minute"], 2
    )
    results["cpu_ratio_to_bare_flask"] = round(
        bare["server_cpu_ms_per_request"] / registration["server_cpu_ms_per_request"], 2
    )
    print(
        f"\nticket drop: {REQUESTS} registrations for {PLACES} places, {CLIENTS} clients, "
        f"gunicorn {' '.join(GUNICORN)}, PostgreSQL"
    )
    print(
        f"{'':<14}{'confirmed/min':>14}{'requests/min':>14}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'oversold':>10}{'server CPU ms/request':>23}"
    )
    for name, row in (("registration", registration), ("bare Flask", bare)):
        confirmed = row["confirmed_per_minute"] if name == "registration" else "-"
        oversold = row["oversold"] if row["oversold"] is not None else "-"
        print(
            f"{name:<14}{confirmed:>14}{row['requests_per_minute']:>14}{row['p50_ms']:>9}"
            f"{row['p99_ms']:>9}{oversold:>10}{row['server_cpu_ms_per_request']:>23}"
        )
    print(f"answers: {registration['answers']}")
    print(
        f"registration throughput / bare Flask: {results['ratio_to_bare_flask']}; the same by "
        f"server CPU per request, which other load on the machine does not skew: "
        f"{results['cpu_ratio_to_bare_flask']}; load average now {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} cores"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ticket_drop.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
