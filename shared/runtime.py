"""One service's wiring: its definition, database, unit of work and outbox relay.

The HTTP app and the worker of a service are both built from a ServiceRuntime, so a route
and a consumer that do the same thing share every dependency. The library knows no service:
each service's app module hands it a ServiceDefinition, and services/system.py lists them.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import MetaData, Table
from sqlalchemy.orm import sessionmaker

from shared.auth import (
    DEFAULT_ORGANISATION,
    ORGANISER,
    Principal,
    RecentTokens,
    bootstrap_organiser_token,
    ensure_token,
)
from shared.bus.outbox import OutboxRelay, OutboxRows
from shared.db import UnitOfWork, create_database_engine, ensure_database, migrate
from shared.identity import IdentityTables, PersonalTokenUses, announce_token_use
from shared.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CommonTables:
    outbox: Table
    inbox: Table
    tokens: Table
    # Registration's identity key, members and revoked access tokens (shared/identity.py).
    identity: IdentityTables


@dataclass(frozen=True)
class PeriodicTask:
    """Work a service's worker repeats, e.g. a clean-up: `run(runtime)` at start, then every
    `every_seconds`. A service lists its tasks in its definition."""

    name: str
    every_seconds: float
    run: Callable[["ServiceRuntime"], None]


@dataclass(frozen=True)
class ServiceDefinition:
    """What a service hands the library: its tables and migrations, its event handlers (by
    event type), its HTTP app factory and its worker's periodic tasks."""

    name: str
    metadata: MetaData
    tables: CommonTables
    migrations_dir: Path
    handlers: dict[str, Callable] = field(default_factory=dict)
    # create_app(settings=None, runtime=None): the service's HTTP app.
    app_factory: Callable | None = None
    periodic_tasks: tuple[PeriodicTask, ...] = ()
    # What a request admitted with a personal API token does, in a transaction of its own,
    # once a minute per token: announce it (access_token.used), unless the service keeps the
    # tokens itself (registration).
    personal_token_used: Callable = announce_token_use

    @property
    def subscriptions(self) -> list[str]:
        """The event types it consumes: the keys of its handlers are its queue's bindings."""
        return sorted(self.handlers)


class ServiceRuntime:
    def __init__(self, definition: ServiceDefinition, settings: Settings):
        self.definition = definition
        self.name = definition.name
        self.settings = settings
        self.tables = definition.tables
        self.engine = create_database_engine(settings.database_url(self.name))
        self.session_factory = sessionmaker(self.engine, expire_on_commit=False)
        self.relay = OutboxRelay(
            self.tables.outbox,
            self.session_factory,
            settings.broker_url,
            settings.relay_poll_seconds,
        )
        self._outbox_rows = OutboxRows(self.tables.outbox, self.name)
        self.recent_tokens = RecentTokens()
        self.personal_token_uses = PersonalTokenUses()
        self.secret_box = settings.secret_box()

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(
            self.session_factory, self._outbox_rows, self.relay.wake.set, self.secret_box
        )

    def prepare(self) -> None:
        """Create and migrate the database and ensure the bootstrap organiser token."""
        ensure_database(self.settings.database_url(self.name))
        migrate(self.engine, self.definition.migrations_dir, self.secret_box)
        token = bootstrap_organiser_token(self.settings.bootstrap_token, self.settings.data_dir)
        with self.session_factory() as session:
            ensure_token(
                session, self.tables.tokens, token, Principal(ORGANISER, DEFAULT_ORGANISATION)
            )
        log.info("%s: database ready", self.name)

    def dispose(self) -> None:
        self.engine.dispose()
