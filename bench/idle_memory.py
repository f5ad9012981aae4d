"""Idle memory per service: the proportional set size (PSS: shared pages are split between
the processes sharing them, so sums count them once) of each service's processes (gunicorn
master and workers, and its bus worker) in distributed mode, of the gateway, and of the one
embedded process, next to a bare Flask app under the same gunicorn settings measured in the
same run (the ratio is the figure)."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support import free_ports, listening  # noqa: E402

BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results"
SETTLE_SECONDS = 5


def resident_mib(pids: list[int]) -> float:
    total_kib = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total_kib += int(line.split()[1])
        except FileNotFoundError:
            continue
    return round(total_kib / 1024, 1)


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except FileNotFoundError:
        return ""


def bare_flask() -> float:
    (port,) = free_ports()
    process = subprocess.Popen(
        [
            BIN / "gunicorn",
            "bench.bare_app:create_app()",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "4",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        time.sleep(SETTLE_SECONDS)
        return resident_mib(descendants(process.pid))
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)


def embedded() -> float:
    with tempfile.TemporaryDirectory() as data_dir:
        process = subprocess.Popen(
            [BIN / "loopgate", "run"],
            env={
                **os.environ,
                "LOOPGATE_DATA_DIR": data_dir,
                "LOOPGATE_PORT": str(free_ports()[0]),
            },
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(SETTLE_SECONDS + 5)
            return resident_mib([process.pid])
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(30)


def distributed() -> dict | None:
    from tests.conftest import POSTGRES_URL, RABBITMQ_URL
    from tests.integration.distributed import DistributedLoopgate

    for port, name in ((5672, "RabbitMQ"), (5432, "PostgreSQL")):
        if not listening(port):
            print(f"distributed: skipped ({name} is not reachable on 127.0.0.1:{port})")
            return None
    with tempfile.TemporaryDirectory() as data_dir:
        system = DistributedLoopgate(RABBITMQ_URL, POSTGRES_URL, Path(data_dir))
        system.start()
        try:
            time.sleep(SETTLE_SECONDS)
            pids = descendants(system._process.pid)
            for worker in system._workers.values():
                pids += descendants(worker.pid)
            figures = {}
            for service in ("registration", "ticketing", "checkin"):
                web = [p for p in pids if f"services.{service}.app" in command_line(p)]
                worker = [p for p in pids if f"worker {service}" in command_line(p)]
                figures[service] = {"web": resident_mib(web), "worker": resident_mib(worker)}
            figures["gateway"] = {
                # nginx: its master and its workers
                "web": resident_mib([p for p in pids if "nginx" in command_line(p)]),
                "worker": 0.0,
            }
            return figures
        finally:
            system.stop()


def main() -> None:
    reference = bare_flask()
    results = {
        "bare_flask_gunicorn_mib": reference,
        "embedded_mib": embedded(),
        "distributed": distributed(),
    }
    print(f"\nidle memory (PSS), bare Flask under the same gunicorn: {reference} MiB")
    print(f"{'process':<24}{'MiB':>8}{'/ bare':>9}")
    print(
        f"{'embedded (all three)':<24}{results['embedded_mib']:>8}"
        f"{results['embedded_mib'] / reference:>9.2f}"
    )
    for service, figures in (results["distributed"] or {}).items():
        for role, mib in figures.items():
            if mib:
                print(f"{service + ' ' + role:<24}{mib:>8}{mib / reference:>9.2f}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "idle_memory.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
