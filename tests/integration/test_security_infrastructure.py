"""Issue 14's findings about what surrounds the code, as the attacks that now fail, against a
real `loopgate run` (what `make run` starts) in a subprocess:

- a thousand idle or slow connections no longer keep a door scan waiting (nor hold a
  thread each: waitress, shared/embedded.py);
- the data dir and every file in it are private (0700 and 0600), an existing loose one
  tightened at start; gunicorn's processes run under the same umask;
- the log shows no manage token, QR key or door search term (shared/logs.py);
- after an erasure, no SQLite file of any service (nor its write-ahead log) holds the
  attendee's name or email, and no outbox row carries them (shared/bus/outbox.py).
"""

import contextlib
import os
import socket
import sqlite3
import stat
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from tests.integration.test_embedded_process import ROOT, RunningLoopgate
from tests.support import ORGANISER_TOKEN, CoreFlow, free_ports, listening, wait_until

IDLE_CONNECTIONS = 500
SLOW_CONNECTIONS = 500
# What a slow client sends, a byte at a time: a request that never ends.
SLOW_REQUEST = (
    b"POST /api/checkin/scans HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"Content-Length: 4096\r\n\r\n" + b"x" * 4096
)


@pytest.fixture(scope="module")
def loopgate(tmp_path_factory):
    """`loopgate run` on a data dir that an earlier run under a loose umask left readable."""
    data_dir = tmp_path_factory.mktemp("loopgate")
    data_dir.chmod(0o755)
    (data_dir / "mailbox").mkdir(mode=0o755)
    (data_dir / "mailbox" / "earlier.eml").write_text("Subject: before\n\nkept\n")
    (data_dir / "mailbox" / "earlier.eml").chmod(0o644)
    (port,) = free_ports()
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("LOOPGATE_BOOTSTRAP_TOKEN", ORGANISER_TOKEN)
        environment.setenv("LOOPGATE_RATE_LIMIT", "off")
        running = RunningLoopgate(data_dir, port)
    running.data_dir = data_dir
    running.port = port
    running.flow = CoreFlow(f"http://127.0.0.1:{port}")
    yield running
    assert running.interrupt() == 0


def attendee() -> dict:
    """Someone whose name and email appear nowhere else."""
    tag = uuid.uuid4().hex[:10]
    return {"name": f"Zebulon Quintavalle {tag}", "email": f"zq-{tag}@example.com"}


def ticketed(flow: CoreFlow, person: dict) -> tuple[str, dict, dict]:
    """(event id, registration, ticket) of `person`, the ticket in the check-in roster."""
    event_id, ticket_type_id = flow.published_event(quota=10)
    registration = flow.registered(event_id, ticket_type_id, **person)
    ticket = flow.wait_for_ticket(registration)
    flow.wait_until_in_roster(ticket["id"])
    return event_id, registration, ticket


# --- slow clients -------------------------------------------------------------------------


def process_status(pid: int, field: str) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return line.split(":", 1)[1].strip()
    raise KeyError(field)


def open_sockets(pid: int) -> int:
    """The process's sockets (its database files come and go with its connection pools)."""
    count = 0
    for descriptor in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(FileNotFoundError):  # closed while counted
            count += os.readlink(descriptor).startswith("socket:")
    return count


@contextlib.contextmanager
def dribbling(connections: list[socket.socket]):
    """Each connection sends the next byte of SLOW_REQUEST every 50 ms while the block runs."""
    stop = threading.Event()

    def dribble():
        sent = 0
        while not stop.wait(0.05) and sent < len(SLOW_REQUEST):
            for connection in connections:
                connection.send(SLOW_REQUEST[sent : sent + 1])
            sent += 1

    thread = threading.Thread(target=dribble, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)


def timed_scans(flow: CoreFlow, payload: str, count: int) -> list[float]:
    seconds = []
    for _ in range(count):
        started = time.perf_counter()
        assert flow.scan(payload)["verdict"] in ("ok", "already_checked_in")
        seconds.append(time.perf_counter() - started)
    return seconds


def test_a_thousand_idle_and_slow_connections_leave_a_scan_answered_in_under_100_ms(loopgate):
    _event, _registration, ticket = ticketed(loopgate.flow, attendee())
    pid = loopgate.process.pid
    before = open_sockets(pid)
    connections = [
        socket.create_connection(("127.0.0.1", loopgate.port))
        for _ in range(IDLE_CONNECTIONS + SLOW_CONNECTIONS)
    ]
    try:
        wait_until(
            lambda: open_sockets(pid) >= before + len(connections),
            10,
            "the server to accept every connection",
        )
        with dribbling(connections[IDLE_CONNECTIONS:]):
            time.sleep(0.5)  # slow requests under way
            scans = sorted(timed_scans(loopgate.flow, ticket["payload"], 20))
            threads = int(process_status(pid, "Threads"))
        # The shared machine may stall one scan; nine in ten is what the door feels.
        assert scans[17] < 0.1, f"scans took {[round(s * 1000) for s in scans]} ms"
        assert statistics.median(scans) < 0.1
        # A thread per connection would be a thousand more.
        assert threads < 100, threads
    finally:
        for connection in connections:
            connection.close()


def test_the_dashboards_live_stream_arrives_a_scan_at_a_time(loopgate):
    """Each small server-sent event is sent when written, not when a buffer fills."""
    flow = loopgate.flow
    event_id, _registration, ticket = ticketed(flow, attendee())
    stream = flow.http.get(
        flow.url(f"/api/checkin/events/{event_id}/stats/live"),
        params={"max_seconds": 10},
        headers=flow.organiser,
        stream=True,
        timeout=5,
    )
    lines = stream.iter_lines(decode_unicode=True)
    try:
        assert next(line for line in lines if line.startswith("event:")) == "event: stats"
        flow.scan(ticket["payload"])
        started = time.monotonic()
        assert next(line for line in lines if line.startswith("event:")) == "event: stats"
        assert time.monotonic() - started < 3  # the next poll (1 s), not the stream's end
    finally:
        stream.close()


# --- private files ------------------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_the_data_dir_is_0700_and_every_file_in_it_0600_earlier_ones_included(loopgate):
    flow = loopgate.flow
    event_id, ticket_type_id = flow.published_event(quota=10)
    flow.registered(event_id, ticket_type_id, **attendee())
    mailbox = loopgate.data_dir / "mailbox"
    wait_until(lambda: len(list(mailbox.glob("*.eml"))) > 1, 15, "the confirmation mail")

    everything = list(loopgate.data_dir.rglob("*"))
    names = {path.name for path in everything}
    for service in ("registration", "ticketing", "checkin"):
        assert {f"{service}.db", f"{service}.db-wal", f"{service}.db-shm"} <= names
    assert mode(loopgate.data_dir) == 0o700
    loose = {
        str(path.relative_to(loopgate.data_dir)): oct(mode(path))
        for path in everything
        if mode(path) != (0o700 if path.is_dir() else 0o600)
    }
    assert loose == {}


def test_migrate_makes_its_databases_and_metrics_dirs_private(tmp_path):
    data_dir = tmp_path / "var"
    subprocess.run(
        [Path(sys.executable).parent / "loopgate", "migrate"],
        env={**os.environ, "LOOPGATE_DATA_DIR": str(data_dir)},
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    made = {str(path.relative_to(data_dir)): oct(mode(path)) for path in data_dir.rglob("*")}
    assert made["registration.db"] == made["checkin.db"] == "0o600"
    assert made["metrics/ticketing"] == "0o700"
    assert set(made.values()) <= {"0o600", "0o700"}


def test_gunicorn_processes_write_under_the_private_umask():
    (port,) = free_ports()
    server = subprocess.Popen(
        [
            Path(sys.executable).parent / "gunicorn",
            "-c",
            "python:shared.gunicorn_config",
            "bench.bare_app:create_app()",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: listening(port), 30, "gunicorn", interval=0.2)
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
        assert children, "gunicorn has a worker"
        for pid in [server.pid, *map(int, children)]:
            assert process_status(pid, "Umask") == "0077"
    finally:
        server.terminate()
        server.wait(30)


# --- logs ----------------------------------------------------------------------------------


def test_the_log_names_no_token_qr_key_code_or_search_term(loopgate):
    flow = loopgate.flow
    event_id, registration, ticket = ticketed(flow, attendee())
    manage_token = registration["manage_token"]
    qr_key = ticket["qr_png_url"].split("key=", 1)[1]
    searched = "Quintaval"
    assert flow.get(ticket["qr_png_url"]).status_code == 200
    assert flow.get(
        f"/api/registration/registrations/{registration['id']}", params={"token": manage_token}
    ).ok
    found = flow.get(
        f"/api/checkin/events/{event_id}/tickets", params={"q": searched}, headers=flow.organiser
    )
    assert found.status_code == 200, found.text
    flow.get("/api/checkin/scanner", params={"code": "PAIRING-CODE-1234", "search": searched})

    def written() -> str | None:
        # What came after the banner (which shows the organiser token, for the operator).
        text = loopgate.output.read_text().split("Press Ctrl-C to stop.", 1)[1]
        return text if "/api/checkin/scanner" in text else None

    log = wait_until(written, 5, "the requests in the log")
    for secret in (manage_token, qr_key, searched, "PAIRING-CODE-1234", ORGANISER_TOKEN):
        assert secret not in log
    assert f"/api/registration/registrations/{registration['id']}?token=[redacted]" in log
    assert "q=[redacted]" in log


# --- erasure -------------------------------------------------------------------------------


def database_files(data_dir: Path) -> list[Path]:
    return [path for path in data_dir.iterdir() if path.name.endswith((".db", ".db-wal"))]


def files_naming(data_dir: Path, person: dict) -> list[str]:
    """The SQLite files (and write-ahead logs) whose bytes hold the person's name or email."""
    marks = [person["name"].encode(), person["email"].encode()]
    return [
        path.name
        for path in database_files(data_dir)
        if any(mark in path.read_bytes() for mark in marks)
    ]


def outbox_rows_naming(data_dir: Path, person: dict) -> list[str]:
    rows = []
    for path in data_dir.glob("*.db"):
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as database:
            for (envelope,) in database.execute("SELECT envelope FROM outbox"):
                if person["email"] in envelope or person["name"] in envelope:
                    rows.append(f"{path.name}: {envelope}")
        database.close()
    return rows


def test_after_an_erasure_no_database_file_or_outbox_row_holds_the_name_or_email(loopgate):
    person = attendee()
    _event, registration, _ticket = ticketed(loopgate.flow, person)
    assert outbox_rows_naming(loopgate.data_dir, person), "the events named them"
    assert files_naming(loopgate.data_dir, person)

    assert loopgate.flow.erase(registration).status_code == 200

    wait_until(
        lambda: not files_naming(loopgate.data_dir, person),
        15,
        f"{person} gone from every database file",
        interval=0.2,
    )
    assert outbox_rows_naming(loopgate.data_dir, person) == []


def test_what_the_server_refuses_itself_is_problem_json_too(embedded):
    """A body beyond even the server's bound never reaches an app; the refusal still speaks
    problem+json, as DESIGN.md asks of every 413."""
    huge = b"{" + b" " * (5 * 1024 * 1024) + b"}"

    response = embedded.post(
        "/api/registration/events", data=huge, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 413
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 413
