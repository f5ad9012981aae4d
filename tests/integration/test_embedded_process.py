"""`loopgate run` (what `make run` starts): prints what a new user needs, stops cleanly on
Ctrl-C, and a second run keeps the data."""

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import requests

from tests.support import free_ports, wait_until

ROOT = Path(__file__).resolve().parents[2]


# A clean stop takes about a second; a loaded CI machine may take many times that.
STOP_SECONDS = 60


class RunningLoopgate:
    def __init__(self, data_dir: Path, port: int):
        self.output = data_dir / f"run-{port}.log"
        self._log = open(self.output, "w")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [Path(sys.executable).parent / "loopgate", "run"],
            env={**os.environ, "LOOPGATE_DATA_DIR": str(data_dir), "LOOPGATE_PORT": str(port)},
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.banner = wait_until(self._banner, 60, "the start banner", interval=0.2)

    def _banner(self) -> str | None:
        text = self.output.read_text()
        assert self.process.poll() is None, text
        return text if "Press Ctrl-C to stop." in text else None

    def interrupt(self) -> int:
        self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            # What it was doing: its log ends with every thread's stack (shared/embedded.py).
            log = self.output.read_text()[-20000:]
            raise AssertionError(f"loopgate run did not stop:\n{log}") from None
        finally:
            self._log.close()
        return code


def test_run_prints_the_urls_and_token_stops_on_ctrl_c_and_keeps_its_data(tmp_path):
    (port,) = free_ports()
    first = RunningLoopgate(tmp_path, port)
    try:
        url = f"http://127.0.0.1:{port}"
        assert url in first.banner
        for service in ("registration", "ticketing", "checkin"):
            assert f"{url}/api/{service}/docs" in first.banner
        token = re.search(r"organiser token: (\S+)", first.banner).group(1)
        showcase = re.search(r"demo showcase:\s+(\S+)", first.banner).group(1)
        assert requests.get(showcase, timeout=10).status_code == 200  # the public page
        event_id = showcase.rsplit("/", 1)[1]
        event = requests.get(f"{url}/api/registration/events/{event_id}", timeout=10).json()
        # The demo owner's link opens the page where they choose a password.
        owner_link = re.search(r"demo owner:\s+(\S+)", first.banner).group(1)
        assert "/organiser/invitations/" in owner_link
        assert "Join Loopgate" in requests.get(owner_link, timeout=10).text
        registration = requests.post(
            f"{url}/api/registration/events/{event['id']}/registrations",
            json={
                "ticket_type_id": next(
                    t["id"] for t in event["ticket_types"] if not t["requires_approval"]
                ),
                "attendee": {"name": "Wong Ka Yan", "email": "kayan@example.com"},
                # The demo asks for consent before anyone registers.
                "answers": {q["id"]: True for q in event["questions"] if q["kind"] == "consent"},
            },
            timeout=10,
        ).json()
        assert registration["status"] == "confirmed"
    finally:
        assert first.interrupt() == 0

    second = RunningLoopgate(tmp_path, port)
    try:
        assert f"organiser token: {token}" in second.banner
        kept = requests.get(
            f"{url}/api/registration/registrations/{registration['id']}",
            params={"token": registration["manage_token"]},
            timeout=10,
        )
        assert kept.status_code == 200
        ticket = requests.get(
            f"{url}/api/ticketing/registrations/{registration['id']}/ticket",
            params={"token": registration["manage_token"]},
            timeout=10,
        )
        assert ticket.status_code == 200
        events = requests.get(f"{url}/api/registration/events", timeout=10).json()
        assert [e["id"] for e in events] == [event["id"]], "the demo showcase is seeded once"
    finally:
        assert second.interrupt() == 0
