"""The gateway (nginx, deploy/nginx/) on its own, for tests: the Procfile's `gateway` line, run
as `make distributed` runs it, in front of whatever upstreams a test gives it."""

import os
import signal
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from tests.integration.distributed import BIN, ROOT, _procfile, require_nginx
from tests.support import free_ports, listening, wait_until


@contextmanager
def nginx_gateway(data_dir: Path, upstreams: Mapping[str, str], **environ: str) -> Iterator[str]:
    """nginx on a free port of 127.0.0.1 with its files under `data_dir`, sending each service
    (registration, ticketing, checkin) to its upstream (host:port), with any other LOOPGATE_*
    settings in `environ`; yields its URL. Skips the test without nginx."""
    require_nginx()
    (port,) = free_ports(1)
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "LOOPGATE_DATA_DIR": str(data_dir),
        "LOOPGATE_HOST": "127.0.0.1",
        "LOOPGATE_PORT": str(port),
        **{f"LOOPGATE_{name.upper()}_UPSTREAM": address for name, address in upstreams.items()},
        **environ,
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / "gateway.log", "w+b") as log:
        process = subprocess.Popen(
            ["sh", "-c", _procfile()["gateway"]],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def up() -> bool:
            if process.poll() is not None:
                log.seek(0)
                raise AssertionError(f"the gateway exited:\n{log.read().decode(errors='replace')}")
            return listening(port)

        try:
            wait_until(up, 10, "nginx to listen", interval=0.02)
            yield f"http://127.0.0.1:{port}"
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)  # nginx's fast shutdown
            process.wait(10)


def address(url: str) -> str:
    """host:port of an http:// URL, as the gateway's upstreams are given."""
    return url.removeprefix("http://").rstrip("/")
