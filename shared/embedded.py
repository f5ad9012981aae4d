"""Embedded mode: the three services and their workers in one process behind one port,
on kombu's memory transport and one SQLite file per service."""

import logging
import threading
import time

from werkzeug.serving import make_server

from shared.bus.broker import broker_connection
from shared.bus.consumer import service_queue
from shared.bus.topology import SERVICES, subscriptions
from shared.runtime import ServiceRuntime
from shared.services import app_factory, definition
from shared.settings import Settings
from shared.worker import ServiceWorker

log = logging.getLogger(__name__)

# The memory transport keeps nothing across a restart, so events relayed shortly before a
# crash may never have been consumed. On start they are relayed again; the consumers'
# inboxes drop the ones already processed.
REPLAY_WINDOW_SECONDS = 15 * 60


class ServiceDispatcher:
    """Sends /api/<service>/... to that service's app; everything else to registration,
    which serves the public pages (as the gateway does in distributed mode)."""

    def __init__(self, apps: dict[str, object]):
        self._apps = apps

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        for service, app in self._apps.items():
            prefix = f"/api/{service}"
            if path == prefix or path.startswith(prefix + "/"):
                return app(environ, start_response)
        return self._apps["registration"](environ, start_response)


class EmbeddedSystem:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.runtimes = {name: ServiceRuntime(definition(name), settings) for name in SERVICES}
        self.workers: list[ServiceWorker] = []
        self.app = None

    def start(self) -> None:
        for runtime in self.runtimes.values():
            runtime.prepare()
            if self.settings.broker_url.startswith("memory"):
                runtime.relay.replay_recent(REPLAY_WINDOW_SECONDS)
        self.app = ServiceDispatcher(
            {name: app_factory(name)(runtime=runtime) for name, runtime in self.runtimes.items()}
        )
        self.workers = [ServiceWorker(runtime) for runtime in self.runtimes.values()]
        for worker in self.workers:
            worker.start()
        for worker in self.workers:
            worker.wait_until_consuming()

    def stop(self, drain_seconds: float = 5) -> None:
        """Stop after the events in flight are consumed, so a clean stop loses none."""
        deadline = time.monotonic() + drain_seconds
        while time.monotonic() < deadline and not self._idle():
            time.sleep(0.05)
        for worker in self.workers:
            worker.stop()
        for runtime in self.runtimes.values():
            runtime.dispose()

    def _idle(self) -> bool:
        if any(runtime.relay.backlog() for runtime in self.runtimes.values()):
            return False
        with broker_connection(self.settings.broker_url) as connection:
            channel = connection.default_channel
            for service, event_types in subscriptions().items():
                queue = service_queue(service, event_types)(channel)
                if queue.queue_declare(passive=True).message_count:
                    return False
        return True


def serve(settings: Settings, on_ready=lambda system, url: None) -> None:
    system = EmbeddedSystem(settings)
    system.start()
    server = make_server(settings.host, settings.port, system.app, threaded=True)
    shown_host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host  # noqa: S104
    url = f"http://{shown_host}:{settings.port}"
    on_ready(system, url)
    thread = threading.Thread(target=server.serve_forever, name="http", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.5)
    except KeyboardInterrupt:
        log.info("stopping")
    finally:
        server.shutdown()
        system.stop()
