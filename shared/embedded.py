"""Embedded mode: the services and their workers in one process behind one port, on
kombu's memory transport and one SQLite file per service, served by waitress. Which services,
the caller says with their definitions (services/system.py).

A venue may serve its door devices from embedded mode (LOOPGATE_HOST=0.0.0.0), so the server
must outlast slow and idle clients: waitress reads requests and writes answers on one
asynchronous loop and hands only complete requests to a bounded pool of threads, so a
thousand connections that send nothing, or a byte at a time, hold no thread and a scan is
still answered at once.
"""

import faulthandler
import logging
import resource
import threading
import time
from collections.abc import Sequence
from functools import partial

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import create_server
from waitress.task import ErrorTask

from shared.bus.broker import broker_connection
from shared.bus.consumer import service_queue
from shared.http import MAX_BODY_BYTES, problem_body
from shared.runtime import ServiceDefinition, ServiceRuntime
from shared.settings import Settings
from shared.worker import ServiceWorker

log = logging.getLogger(__name__)
access_log = logging.getLogger("loopgate.access")

# How long a stop waits for the requests in progress to finish.
STOP_SECONDS = 5
# Longer than a clean stop ever takes: the drain, then each worker's threads.
SLOW_STOP_SECONDS = 15
CONNECTION_LIMIT = 2000
WAITRESS_SETTINGS = {
    # Requests run at once: a venue's door devices, and its live dashboards, each holding
    # one for its stream (at most 5 minutes, services/checkin/live_stream.py). Twice as many
    # cost 13 MiB more at idle (bench/idle_memory.py).
    "threads": 16,
    # Tens of door devices and a few browsers need far fewer; past the limit new
    # connections wait in the listen backlog until others close.
    "connection_limit": CONNECTION_LIMIT,
    # poll(), not select(): select() cannot watch descriptors above 1024.
    "asyncore_use_poll": True,
    # A connection with no request in progress that is silent this long is closed.
    "channel_timeout": 30,
    "cleanup_interval": 10,
    # Headers are held in memory for each connection until complete: bound them.
    "max_request_header_size": 32 * 1024,
    # Above the apps' own limit, so they answer an oversized body with their problem+json.
    "max_request_body_size": 4 * MAX_BODY_BYTES,
    # Every write is sent at once: the dashboard's server-sent events are a few bytes each.
    "send_bytes": 1,
    # The apps decide whom to trust for X-Forwarded-* (LOOPGATE_TRUSTED_PROXY_HOPS).
    "clear_untrusted_proxy_headers": False,
}

# The memory transport keeps nothing across a restart, so events relayed shortly before a
# crash may never have been consumed. On start they are relayed again; the consumers'
# inboxes drop the ones already processed.
REPLAY_WINDOW_SECONDS = 15 * 60


class ServiceDispatcher:
    """Sends /api/<service>/... to that service's app; everything else to the default one,
    which serves the public pages (as the gateway does in distributed mode)."""

    def __init__(self, apps: dict[str, object], default_service: str):
        self._apps = apps
        self._default = apps[default_service]

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        for service, app in self._apps.items():
            prefix = f"/api/{service}"
            if path == prefix or path.startswith(prefix + "/"):
                return app(environ, start_response)
        return self._default(environ, start_response)


class EmbeddedSystem:
    """The services of `definitions` with their workers; paths outside /api/<service>/ go
    to `default_service`."""

    def __init__(
        self,
        settings: Settings,
        definitions: Sequence[ServiceDefinition],
        default_service: str,
    ):
        self.settings = settings
        self.definitions = {definition.name: definition for definition in definitions}
        self.default_service = default_service
        self.subscriptions = {
            name: definition.subscriptions for name, definition in self.definitions.items()
        }
        self.runtimes = {
            name: ServiceRuntime(definition, settings)
            for name, definition in self.definitions.items()
        }
        self.workers: list[ServiceWorker] = []
        self.app = None

    def start(self) -> None:
        for runtime in self.runtimes.values():
            runtime.prepare()
            if self.settings.broker_url.startswith("memory"):
                runtime.relay.replay_recent(REPLAY_WINDOW_SECONDS)
        self.app = ServiceDispatcher(
            {
                name: self.definitions[name].app_factory(runtime=runtime)
                for name, runtime in self.runtimes.items()
            },
            self.default_service,
        )
        self.workers = [
            ServiceWorker(runtime, self.subscriptions) for runtime in self.runtimes.values()
        ]
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
            for service, event_types in self.subscriptions.items():
                queue = service_queue(service, event_types)(channel)
                if queue.queue_declare(passive=True).message_count:
                    return False
        return True


class AccessLog:
    """One line per request, as Werkzeug's server wrote and waitress does not; the log's
    filter redacts the tokens and search terms in it (shared/logs.py)."""

    def __init__(self, app):
        self._app = app

    def __call__(self, environ, start_response):
        def logged_start_response(status, headers, exc_info=None):
            query = environ.get("QUERY_STRING")
            access_log.info(
                '%s "%s %s%s %s" %s',
                environ.get("REMOTE_ADDR", "-"),
                environ["REQUEST_METHOD"],
                environ.get("PATH_INFO", ""),
                f"?{query}" if query else "",
                environ.get("SERVER_PROTOCOL", ""),
                status.split(" ", 1)[0],
            )
            return start_response(status, headers, exc_info)

        return self._app(environ, logged_start_response)


class ProblemErrorTask(ErrorTask):
    """What waitress answers itself, before any app sees the request (a body beyond
    max_request_body_size, headers too large, malformed HTTP): problem+json like every other
    error of Loopgate's."""

    def execute(self):
        error = self.request.error
        body = problem_body(error.code, error.body or error.reason)
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", "application/problem+json"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class ProblemChannel(HTTPChannel):
    error_task_class = ProblemErrorTask


class HttpServer:
    """`app` served by waitress on host:port (port 0: a free one) from a thread of its own
    while the `with` block runs."""

    def __init__(self, app, host: str, port: int):
        self._server = create_server(AccessLog(app), host=host, port=port, **WAITRESS_SETTINGS)
        self._server.channel_class = ProblemChannel
        self.port = self._server.effective_port
        self._thread = threading.Thread(target=self._server.run, name="http", daemon=True)

    def __enter__(self) -> "HttpServer":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def wait(self) -> None:
        """Until the server's loop ends (it does not on its own; Ctrl-C interrupts)."""
        while self._thread.is_alive():
            self._thread.join(0.5)

    def stop(self) -> None:
        """Let the requests in progress finish, then close the listening socket and every
        connection; on the server's own loop, which is not thread-safe."""
        self._server.task_dispatcher.shutdown(timeout=STOP_SECONDS)
        close_all = partial(wasyncore.close_all, self._server._map, ignore_all=True)
        try:
            self._server.trigger.pull_trigger(close_all)
        except OSError:
            # The loop's wake-up pipe is closed already (seen once in a test run's teardown,
            # EBADF): the loop cannot be woken, so close what it served from here.
            close_all()
        self._thread.join(STOP_SECONDS)


def allow_open_files(count: int) -> None:
    """Raise this process's limit of open files to `count` where the hard limit allows: a
    default soft limit of 1024 would refuse connections long before CONNECTION_LIMIT."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = count if hard == resource.RLIM_INFINITY else min(count, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def serve(system: EmbeddedSystem, on_ready=lambda system, url: None) -> None:
    """Start the system and serve it on the settings' host and port until Ctrl-C."""
    settings = system.settings
    # The connections, plus the databases, the mailbox and the workers' own.
    allow_open_files(CONNECTION_LIMIT + 512)
    system.start()
    shown_host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host  # noqa: S104
    url = f"http://{shown_host}:{settings.port}"
    try:
        with HttpServer(system.app, settings.host, settings.port) as server:
            on_ready(system, url)
            server.wait()
    except KeyboardInterrupt:
        log.info("stopping")
    finally:
        # A stop that hangs says where: every thread's stack, once, if it is still going.
        faulthandler.dump_traceback_later(SLOW_STOP_SECONDS, exit=False)
        system.stop()
        faulthandler.cancel_dump_traceback_later()
        log.info("stopped")
