"""Online scans per second and their latency under gunicorn, next to a bare Flask endpoint on
the same gunicorn settings in the same run (machines are shared; only the ratio compares),
a paced run at 200 scans/s for p99, and the time to ingest one 10,000-scan offline batch.

The check-in app runs against its own PostgreSQL database `loopgate_checkin_bench` (made
afresh each run; SQLite with `--database sqlite` or when PostgreSQL is not reachable),
seeded with one event and a fresh ticket per scan, so every online scan takes the full `ok`
path: verify the signature, read the roster, insert the admission, the scan and its
checkin.recorded event.

Targets (issue 7): p99 under 25 ms at 200 scans/s; at full speed at least a quarter of the
bare endpoint's rate; the batch in under 3 s.
"""

import argparse
import gzip
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, insert, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from services.checkin import service  # noqa: E402
from services.checkin.models import RosterTicket  # noqa: E402
from services.system import definition  # noqa: E402
from shared.auth import token_digest  # noqa: E402
from shared.runtime import ServiceRuntime  # noqa: E402
from shared.settings import Settings  # noqa: E402
from shared.tokens import TicketClaims, new_signing_key, public_key_text, sign_ticket  # noqa: E402
from tests.support import free_ports, listening  # noqa: E402

RESULTS = ROOT / "bench" / "results"
TOKEN = "bench-organiser-token"
DATABASE = "loopgate_checkin_bench"
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# As the Procfile runs check-in; a longer worker timeout, so that a machine busy with other
# work slows the 10,000-scan batch down rather than having gunicorn kill it.
GUNICORN = ["--workers", "2", "--threads", "4", "--timeout", "120", "--log-level", "warning"]
CLIENTS = 8
FULL_SPEED_SECONDS = 10
# More than the fastest run could scan, so every online scan admits a fresh ticket.
FULL_SPEED_TICKETS = 40_000
PACED_RATE = 200
PACED_SECONDS = 15
BATCH_SCANS = 10_000

BARE_APP = """
from flask import Flask, jsonify, request

def create_app():
    app = Flask("bare")

    @app.post("/api/checkin/scans")
    def scan():
        body = request.get_json()
        return jsonify({"scan_id": body["scan_id"], "verdict": "ok"})

    @app.get("/api/checkin/healthz")
    def healthz():
        return {"status": "ok"}

    return app
"""


def database_url(backend: str) -> str:
    if backend == "postgresql" and not listening(5432):
        print("PostgreSQL is not reachable on 127.0.0.1:5432: measuring on SQLite")
        backend = "sqlite"
    if backend == "sqlite":
        return f"sqlite:///{tempfile.mkdtemp()}/checkin-bench.db"
    server = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
    server.dispose()
    return make_url(POSTGRES).set(database=DATABASE).render_as_string(hide_password=False)


def environment(url: str, data_dir: str) -> dict:
    metrics = Path(data_dir) / "metrics"  # multiprocess metrics, as the Procfile keeps them
    metrics.mkdir()
    return {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics),
        "LOOPGATE_CHECKIN_DATABASE_URL": url,
        "LOOPGATE_DATA_DIR": data_dir,
        "LOOPGATE_BOOTSTRAP_TOKEN": TOKEN,
        "LOOPGATE_RATE_LIMIT": "off",
        "LOOPGATE_BROKER_URL": "memory://localhost/",
    }


def seed(env: dict, tickets: int) -> list[str]:
    """One event running now, its default list, and `tickets` signed tickets in the roster."""
    runtime = ServiceRuntime(definition("checkin"), Settings.from_env(env_only(env)))
    runtime.prepare()
    key_id, signing_key = new_signing_key()
    event_id, type_id = uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC).replace(microsecond=0)
    valid_from, valid_until = now - timedelta(hours=1), now + timedelta(hours=6)
    uow = runtime.unit_of_work()
    with uow:
        service.record_event(
            uow,
            {
                "event_id": event_id,
                "organisation_id": "default",
                "title": "Bench Night",
                "starts_at": now,
                "ends_at": valid_until,
                "timezone": "Asia/Hong_Kong",
                "early_entry_minutes": 60,
                "status": "published",
                "ticket_types": [{"id": type_id, "name": "General"}],
            },
        )
        service.add_to_roster(uow, roster_entry(event_id, type_id, key_id, signing_key, now))
        uow.commit()
    payloads, rows = [], []
    for _ in range(tickets):
        claims = TicketClaims(key_id, event_id, uuid.uuid4(), type_id, valid_from, valid_until)
        payloads.append(sign_ticket(claims, signing_key))
        rows.append(
            {
                # As ticket.issued brings it: the door knows this very token by its digest.
                "token_sha256": token_digest(payloads[-1]),
                "id": str(claims.ticket_id),
                "event_id": str(event_id),
                "registration_id": str(uuid.uuid4()),
                "ticket_type_id": str(type_id),
                "attendee_name": "Bench Guest",
                "valid_from": valid_from,
                "valid_until": valid_until,
            }
        )
    with runtime.session_factory() as session:
        session.execute(insert(RosterTicket), rows)
        session.commit()
        # Statistics for the roster just loaded, and its pages written out, as autovacuum
        # and checkpoints would have done over an event's weeks of sales; otherwise they do
        # so in the middle of the measurement.
        session.execute(text("ANALYZE"))
        session.commit()
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("CHECKPOINT"))
    runtime.dispose()
    return payloads


def roster_entry(event_id, type_id, key_id, signing_key, now) -> dict:
    """A ticket.issued that brings the event's public key to the door."""
    return {
        "ticket_id": uuid.uuid4(),
        "registration_id": uuid.uuid4(),
        "event_id": event_id,
        "ticket_type_id": type_id,
        "attendee_name": "Key Carrier",
        "valid_from": now,
        "valid_until": now + timedelta(hours=1),
        "signing_key": {"key_id": key_id, "public_key": public_key_text(signing_key.public_key())},
    }


def env_only(env: dict) -> dict:
    return {name: value for name, value in env.items() if name.startswith("LOOPGATE_")}


class Gunicorn:
    def __init__(self, app: str, env: dict, cwd: Path):
        (self.port,) = free_ports()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", app, "--bind", f"127.0.0.1:{self.port}", *GUNICORN],
            env=env,
            cwd=cwd,
        )

    def __enter__(self):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", "/api/checkin/healthz")
                if connection.getresponse().status == 200:
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("gunicorn did not start")

    def __exit__(self, *exc_info):
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def cpu_seconds(self) -> float:
        """CPU time the server's processes have used so far (Linux /proc): unlike wall
        time, it does not grow when other programs share the machine."""
        pids = [self.process.pid]
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        pids += [int(pid) for pid in children.read_text().split()]
        ticks = 0
        for pid in pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")


def measured(server: "Gunicorn", run, *args) -> dict:
    """A run's figures with the server CPU each scan cost."""
    before = server.cpu_seconds()
    result = run(server.port, *args)
    cpu = server.cpu_seconds() - before
    result["server_cpu_seconds"] = round(cpu, 2)
    result["server_cpu_ms_per_scan"] = round(cpu * 1000 / result["scans"], 2)
    return result


class Client:
    """One door posting scans, each on a new connection as the gateway forwards requests to
    the service. A kept-alive connection would stay with the gunicorn worker that accepted
    it, and the eight doors' connections often all land on one worker while the other idles
    (seen here: 9.4 s of CPU in one worker, 0.06 s in the other)."""

    def __init__(self, port: int):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.headers = {
            "Authorization": f"Bearer {TOKEN}",
            "Content-Type": "application/json",
            "Connection": "close",
        }

    def post(self, path: str, body: bytes, headers: dict | None = None) -> dict:
        self.connection.request("POST", path, body, {**self.headers, **(headers or {})})
        response = self.connection.getresponse()
        answer = response.read()
        if response.status != 200:
            raise RuntimeError(f"{response.status}: {answer[:300]!r}")
        return json.loads(answer)

    def scan(self, payload: str) -> float:
        body = json.dumps({"payload": payload, "scan_id": uuid.uuid4().hex}).encode()
        started = time.perf_counter()
        answer = self.post("/api/checkin/scans", body)
        elapsed = time.perf_counter() - started
        if answer["verdict"] != "ok":
            raise RuntimeError(f"unexpected verdict {answer}")
        return elapsed


def full_speed(port: int, payloads) -> dict:
    """CLIENTS doors scanning back to back for FULL_SPEED_SECONDS."""
    lock = threading.Lock()
    latencies: list[float] = []
    deadline = time.monotonic() + FULL_SPEED_SECONDS

    def door():
        client, mine = Client(port), []
        while time.monotonic() < deadline:
            with lock:
                payload = next(payloads)
            mine.append(client.scan(payload))
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=door) for _ in range(CLIENTS)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return figures(latencies, time.monotonic() - started)


def paced(port: int, payloads) -> dict:
    """PACED_RATE scans a second, each sent at its own moment whatever the others do."""
    count = PACED_RATE * PACED_SECONDS
    scheduled = iter(range(count))
    lock = threading.Lock()
    latencies: list[float] = []
    start = time.monotonic() + 0.2

    def door():
        client, mine = Client(port), []
        while True:
            with lock:
                index = next(scheduled, None)
                payload = next(payloads)
            if index is None:
                break
            time.sleep(max(0.0, start + index / PACED_RATE - time.monotonic()))
            mine.append(client.scan(payload))
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=door) for _ in range(CLIENTS * 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return figures(latencies, time.monotonic() - start)


def figures(latencies: list[float], seconds: float) -> dict:
    return {
        "scans": len(latencies),
        "scans_per_second": round(len(latencies) / seconds, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(statistics.quantiles(latencies, n=100)[98] * 1000, 2),
    }


def batch(port: int, payloads) -> dict:
    """One upload of BATCH_SCANS offline scans (gzipped, as the scanner page may send it)."""
    scanned_at = datetime.now(UTC).isoformat()
    scans = [
        {"payload": next(payloads), "scan_id": f"offline-{n:05d}", "scanned_at": scanned_at}
        for n in range(BATCH_SCANS)
    ]
    body = gzip.compress(json.dumps({"scans": scans}).encode())
    started = time.perf_counter()
    answer = Client(port).post("/api/checkin/scans/batch", body, {"Content-Encoding": "gzip"})
    seconds = time.perf_counter() - started
    verdicts = {result["verdict"] for result in answer["results"]}
    if len(answer["results"]) != BATCH_SCANS or verdicts != {"ok"}:
        raise RuntimeError(f"unexpected batch answer: {verdicts}")
    return {"scans": BATCH_SCANS, "gzipped_bytes": len(body), "seconds": round(seconds, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    url = database_url(parser.parse_args().database)
    with tempfile.TemporaryDirectory() as data_dir:
        env = environment(url, data_dir)
        need = FULL_SPEED_TICKETS + PACED_RATE * PACED_SECONDS + BATCH_SCANS
        print(f"seeding {need} tickets in {make_url(url).get_backend_name()} ...", flush=True)
        payloads = iter(seed(env, need))
        bare_dir = Path(data_dir) / "bare"
        bare_dir.mkdir()
        (bare_dir / "bare_app.py").write_text(BARE_APP)
        with Gunicorn("bare_app:create_app()", env, bare_dir) as bare:
            bare_figures = measured(bare, full_speed, iter(lambda: "LG1:bare", None))
        with Gunicorn("services.checkin.app:create_app()", env, ROOT) as checkin:
            results = {
                "database": make_url(url).get_backend_name(),
                "gunicorn": " ".join(GUNICORN[:4]),
                "clients": CLIENTS,
                "bare_flask": bare_figures,
                "checkin_full_speed": measured(checkin, full_speed, payloads),
                "checkin_paced": measured(checkin, paced, payloads),
                "offline_batch": measured(checkin, batch, payloads),
            }
    ratio = (
        results["checkin_full_speed"]["scans_per_second"]
        / results["bare_flask"]["scans_per_second"]
    )
    results["full_speed_ratio"] = round(ratio, 3)
    print(
        f"\nonline scans under gunicorn ({results['gunicorn']}, {CLIENTS} clients, "
        f"{results['database']})"
    )
    print(f"{'run':<26}{'scans/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'server CPU ms/scan':>20}")
    for name in ("bare_flask", "checkin_full_speed", "checkin_paced"):
        row = results[name]
        print(
            f"{name:<26}{row['scans_per_second']:>10}{row['p50_ms']:>9}{row['p99_ms']:>9}"
            f"{row['server_cpu_ms_per_scan']:>20}"
        )
    cpu_ratio = (
        results["bare_flask"]["server_cpu_ms_per_scan"]
        / results["checkin_full_speed"]["server_cpu_ms_per_scan"]
    )
    results["cpu_ratio"] = round(cpu_ratio, 3)
    print(f"check-in / bare Flask at full speed: {ratio:.2f} (target >= 0.25)")
    print(
        f"the same by server CPU per scan, which other load on the machine does not skew: "
        f"{cpu_ratio:.2f}; load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(f"p99 at {PACED_RATE} scans/s: {results['checkin_paced']['p99_ms']} ms (target < 25)")
    offline = results["offline_batch"]
    print(
        f"offline batch of {offline['scans']} scans: {offline['seconds']} s (target < 3), "
        f"{offline['server_cpu_seconds']} s of server CPU"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "scan_rates.json" if results["database"] == "postgresql" else "scan_rates_sqlite.json"
    (RESULTS / name).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
