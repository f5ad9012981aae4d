"""The `loopgate` command: run embedded, migrate, run a worker, operate RabbitMQ."""

import argparse
import logging
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path

from services.system import SERVICES
from shared.private_files import PRIVATE_UMASK, make_private

log = logging.getLogger("loopgate")

# The commands that write to the data dir.
WRITING_COMMANDS = {"run", "migrate", "worker"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="loopgate", description=__doc__)
    parser.add_argument("--log-level", default="INFO")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("run", help="run everything in one process (embedded mode)")
    migrate = commands.add_parser(
        "migrate", help="create and migrate databases, declare the RabbitMQ topology"
    )
    migrate.add_argument("services", nargs="*", metavar="service", help=", ".join(SERVICES))
    worker = commands.add_parser("worker", help="run a service's consumer and outbox relay")
    worker.add_argument("service", choices=SERVICES)
    revision = commands.add_parser("make-migration", help="write a new Alembic revision")
    revision.add_argument("service", choices=SERVICES)
    revision.add_argument("-m", "--message", required=True)

    topology = commands.add_parser("topology", help="RabbitMQ exchanges and queues (pika)")
    topology.add_argument("action", choices=["declare", "verify"])
    dead = commands.add_parser("dead-letters", help="inspect and replay dead-lettered events")
    dead.add_argument("action", choices=["list", "replay"])
    dead.add_argument("service", choices=SERVICES)
    dead.add_argument("--id", action="append", dest="ids", help="replay only this message id")

    args = parser.parse_args(argv)
    from shared.logs import configure_logging
    from shared.settings import Settings, SettingsError

    try:
        settings = Settings.from_env()
    except SettingsError as error:
        parser.error(str(error))
    configure_logging(
        getattr(args, "service", None) or "loopgate",
        json_lines=not settings.is_embedded,
        level=args.log_level,
    )
    if args.command in WRITING_COMMANDS:
        os.umask(PRIVATE_UMASK)
        make_private(settings.data_dir)
    return COMMANDS[args.command](settings, args) or 0


def _run(settings, args) -> int:
    from services.system import embedded_system
    from shared.embedded import serve

    def announce(system, url: str) -> None:
        from services.demo import DEMO_OWNER, demo_owner_invitation, seed_demo_showcase
        from shared.auth import bootstrap_organiser_token

        token = bootstrap_organiser_token(settings.bootstrap_token, settings.data_dir)
        showcase = seed_demo_showcase(system, token)
        invitation = demo_owner_invitation(system)
        owner = (
            f"{url}{invitation}  (choose a password for {DEMO_OWNER})"
            if invitation
            else f"{url}/organiser/login  (as {DEMO_OWNER})"
        )
        mail = (
            f"sent through {settings.smtp_server.host}"
            if settings.smtp_url
            else f"{url}/api/ticketing/mailbox  (.eml files in {settings.mailbox_dir})"
        )
        print(banner(url, settings.data_dir, showcase, token, mail, owner), flush=True)

    _stop_on_sigterm()
    serve(embedded_system(settings), announce)
    return 0


def banner(url: str, data_dir: Path, showcase: str, token: str, mail: str, owner: str) -> str:
    """What `loopgate run` prints once it listens: pages a person opens in a browser first
    (an API URL shows JSON with raw \\u escapes there), then the token and the API docs."""
    return (
        f"\nLoopgate is running (embedded) on {url}\n"
        f"  data:            {data_dir}\n"
        f"  demo showcase:   {url}/events/{showcase}\n"
        f"  organiser login: {url}/organiser/login\n"
        f"  demo owner:      {owner}\n"
        f"  door scanner:    {url}/api/checkin/scanner\n"
        f"  its doors:       {url}/api/checkin/organiser/events/{showcase}/doors\n"
        f"  live dashboard:  {url}/api/checkin/organiser/events/{showcase}/dashboard\n"
        f"  organiser token: {token}\n"
        f"  mail:            {mail}\n"
        "  API docs:\n"
        + "".join(
            f"    {url}/api/{name}/docs  ({url}/api/{name}/openapi.json)\n" for name in SERVICES
        )
        + "Press Ctrl-C to stop.\n"
    )


def _migrate(settings, args) -> int:
    from services.system import definition, subscriptions
    from shared.runtime import ServiceRuntime

    for name in args.services or SERVICES:
        runtime = ServiceRuntime(definition(name), settings)
        runtime.prepare()
        runtime.dispose()
        print(f"{name}: database migrated")
        _reset_metrics_dir(settings.data_dir / "metrics" / name)
    if settings.broker_url.startswith("amqp"):
        from shared.rabbitmq_admin import declare_topology

        for line in declare_topology(settings.broker_url, subscriptions()):
            print(line)
    return 0


def _reset_metrics_dir(directory: Path) -> None:
    """The Procfile's processes share counters here (PROMETHEUS_MULTIPROC_DIR); files of
    processes from an earlier run would be added to this run's."""
    import shutil

    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)


def _worker(settings, args) -> int:
    from services.system import definition, subscriptions
    from shared.runtime import ServiceRuntime
    from shared.worker import ServiceWorker

    runtime = ServiceRuntime(definition(args.service), settings)
    worker = ServiceWorker(runtime, subscriptions())
    stopped = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopped.set())
    worker.start()
    log.info("%s worker running", args.service)
    stopped.wait()
    worker.stop()
    return 0


def _make_migration(settings, args) -> int:
    from alembic import command
    from alembic.config import Config

    from services.system import definition
    from shared.db import create_database_engine, migrate

    service = definition(args.service)
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{Path(scratch) / 'scratch.db'}"
        engine = create_database_engine(url)
        migrate(engine, service.migrations_dir)
        config = Config()
        config.set_main_option("script_location", str(service.migrations_dir))
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.revision(config, message=args.message, autogenerate=True)
    return 0


def _topology(settings, args) -> int:
    from services.system import subscriptions
    from shared import rabbitmq_admin

    if args.action == "declare":
        for line in rabbitmq_admin.declare_topology(settings.broker_url, subscriptions()):
            print(line)
        return 0
    problems = rabbitmq_admin.verify_topology(settings.broker_url, subscriptions())
    for problem in problems:
        print(f"problem: {problem}")
    print("topology ok" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


def _dead_letters(settings, args) -> int:
    import json

    from shared import rabbitmq_admin

    if args.action == "list":
        for message in rabbitmq_admin.list_dead_letters(settings.broker_url, args.service):
            print(json.dumps(message, ensure_ascii=False))
        return 0
    count = rabbitmq_admin.replay_dead_letters(
        settings.broker_url, args.service, set(args.ids) if args.ids else None
    )
    print(f"replayed {count} message(s) to {args.service}")
    return 0


def _stop_on_sigterm() -> None:
    """SIGTERM and SIGINT both stop a run cleanly. SIGINT explicitly too: a process started
    in the background of a shell script inherits SIGINT ignored, and Python then never turns
    it into KeyboardInterrupt, so Ctrl-C (or a supervisor's SIGINT) would do nothing."""

    def interrupt(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)


COMMANDS = {
    "run": _run,
    "migrate": _migrate,
    "worker": _worker,
    "make-migration": _make_migration,
    "topology": _topology,
    "dead-letters": _dead_letters,
}

if __name__ == "__main__":
    sys.exit(main())
