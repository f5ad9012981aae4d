"""A whole distributed Loopgate for tests: the Procfile's processes, exactly as
`make distributed` runs them, on the local RabbitMQ and PostgreSQL, with test databases.

honcho runs the web processes and the gateway (nginx, deploy/nginx/); the workers run beside
it from the same Procfile lines, so a test can kill one (honcho would stop everything when a
child dies, where a real deployment restarts the process)."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from services.system import SERVICES
from shared.bus.topology import dead_letter_queue_name, queue_name
from shared.rabbitmq_admin import connection_parameters
from tests.conftest import REQUIRED
from tests.support import ORGANISER_TOKEN, free_ports, wait_until

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# Debian's nginx, the gateway; /usr/sbin is not on a Debian user's PATH.
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def require_nginx() -> None:
    """Skip the test (fail it when integration tests are required) without nginx."""
    if os.access(NGINX, os.X_OK):
        return
    message = f"nginx, the gateway, is not installed at {NGINX} (make system-packages installs it)"
    if REQUIRED:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


class DistributedLoopgate:
    def __init__(self, broker_url: str, postgres_url: str, data_dir: Path):
        self.broker_url = broker_url
        # Without LOOPGATE_SMTP_URL every service's mail is an .eml file here.
        self.mailbox_dir = data_dir / "mailbox"
        gateway_port, *service_ports = free_ports(1 + len(SERVICES))
        self.url = f"http://127.0.0.1:{gateway_port}"
        server = postgres_url.rsplit("/", 1)[0]
        self.database_urls = {name: f"{server}/loopgate_test_{name}" for name in SERVICES}
        self.env = {
            **os.environ,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "LOOPGATE_MODE": "distributed",
            "LOOPGATE_BROKER_URL": broker_url,
            "LOOPGATE_PORT": str(gateway_port),
            "LOOPGATE_DATA_DIR": str(data_dir),
            "LOOPGATE_BOOTSTRAP_TOKEN": ORGANISER_TOKEN,
            "LOOPGATE_RATE_LIMIT": "off",
            **{
                f"LOOPGATE_{name.upper()}_PORT": str(port)
                for name, port in zip(SERVICES, service_ports, strict=True)
            },
            **{
                f"LOOPGATE_{name.upper()}_DATABASE_URL": url
                for name, url in self.database_urls.items()
            },
        }
        self._process: subprocess.Popen | None = None
        self._workers: dict[str, subprocess.Popen] = {}
        self._log = open(data_dir / "processes.log", "w+b")  # noqa: SIM115 (kept for reading)
        self.engines = {}

    def start(self) -> "DistributedLoopgate":
        require_nginx()
        self._reset()
        subprocess.run(
            [BIN / "loopgate", "--log-level", "WARNING", "migrate"],
            env=self.env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        commands = _procfile()
        self._process = subprocess.Popen(
            [
                BIN / "honcho",
                "--procfile",
                "Procfile",
                "--app-root",
                str(ROOT),
                "start",
                *(name for name in commands if not name.startswith("worker-")),
            ],
            env=self.env,
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for service in SERVICES:
            self.start_worker(service)
        try:
            wait_until(self._ready, 60, "all services ready behind the gateway", interval=0.2)
        except BaseException:
            self.stop()
            raise
        self.engines = {
            name: create_engine(url, pool_pre_ping=True) for name, url in self.database_urls.items()
        }
        return self

    def start_worker(self, service: str, env: dict[str, str] | None = None) -> None:
        """The service's worker, with `env` over the system's environment if given."""
        self._workers[service] = subprocess.Popen(
            ["sh", "-c", _procfile()[f"worker-{service}"]],
            env={**self.env, **(env or {})},
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill_worker(self, service: str) -> None:
        """SIGKILL, as a crash or the OOM killer would: no cleanup, unacked messages and all."""
        worker = self._workers.pop(service)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)

    def stop_worker(self, service: str) -> None:
        """SIGTERM, as a deployment stops it: it finishes what it holds and exits. Returns
        once every process of the worker has gone (the shell running the Procfile line
        exits at once, the worker itself only when it has finished)."""
        worker = self._workers.pop(service)
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(30)
        deadline = time.monotonic() + 30
        while _group_alive(worker.pid):
            if time.monotonic() > deadline:
                os.killpg(worker.pid, signal.SIGKILL)
                break
            time.sleep(0.1)

    def stop(self) -> None:
        for worker in self._workers.values():
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGTERM)
        for worker in self._workers.values():
            try:
                worker.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
        self._workers.clear()
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait(5)
        for engine in self.engines.values():
            engine.dispose()
        self._log.close()

    def log_tail(self, lines: int = 60) -> str:
        self._log.flush()
        self._log.seek(0)
        return b"\n".join(self._log.read().splitlines()[-lines:]).decode(errors="replace")

    def scalar(self, service: str, sql: str, **params):
        with self.engines[service].connect() as connection:
            return connection.scalar(text(sql), params)

    def _ready(self) -> bool:
        if self._process.poll() is not None:
            raise AssertionError(f"honcho exited:\n{self.log_tail()}")
        try:
            return all(
                requests.get(f"{self.url}/api/{name}/readyz", timeout=2).status_code == 200
                for name in SERVICES
            )
        except (requests.ConnectionError, requests.Timeout):
            return False

    def _reset(self) -> None:
        """Fresh test databases and queues, so every run starts from nothing."""
        import pika

        for url in self.database_urls.values():
            server, name = url.rsplit("/", 1)
            admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()
        connection = pika.BlockingConnection(connection_parameters(self.broker_url))
        channel = connection.channel()
        for name in SERVICES:
            channel.queue_delete(queue_name(name))
            channel.queue_delete(dead_letter_queue_name(name))
        connection.close()


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def _procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and not line.startswith("#"))


def wait_for_rabbitmq(broker_url: str, timeout: float = 60) -> None:
    import pika

    def reachable():
        try:
            pika.BlockingConnection(connection_parameters(broker_url)).close()
            return True
        except pika.exceptions.AMQPError:
            return False

    wait_until(reachable, timeout, "RabbitMQ to accept connections", interval=0.5)
