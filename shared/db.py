"""Engines, sessions, migrations and the unit of work, the same for every service.

SQLite (embedded) and PostgreSQL (distributed) run the same code. On SQLite every
transaction starts with BEGIN IMMEDIATE so that writers queue on the database lock instead
of failing half-way with "database is locked" at their first write.

Statement parameters (emails, token digests) are kept out of error messages and so out of
the logs (hide_parameters).
"""

import logging
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

import psycopg
from alembic import command
from alembic.config import Config
from sqlalchemy import Insert, Table, bindparam, create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from shared.logs import current_correlation_id
from shared.secret_box import SecretBox

T = TypeVar("T")

log = logging.getLogger(__name__)


# A pooled connection unused for longer than this is pinged before it is handed out.
IDLE_PING_SECONDS = 2.0


def create_database_engine(url: str) -> Engine:
    if make_url(url).get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    engine = create_engine(
        url,
        pool_size=10,
        max_overflow=20,
        pool_timeout=10,
        connect_args={"connect_timeout": 5},
        hide_parameters=True,
    )
    _ping_idle_connections(engine)
    return engine


def _ping_idle_connections(engine: Engine) -> None:
    """Ping a pooled connection only when it has lain idle: pinging every checkout
    (pool_pre_ping) costs a round trip and more CPU than a door scan's own queries. A
    connection in steady use that the server dropped (a restart) fails its next statement
    instead; SQLAlchemy then renews the whole pool, and the request answers 503 with
    Retry-After (shared/http.py) while consumers retry."""

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection, record):
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection, record, _proxy):
        returned = record.info.get("returned_at")
        if returned is None or time.monotonic() - returned < IDLE_PING_SECONDS:
            return
        try:
            dbapi_connection.execute("SELECT 1")
            dbapi_connection.rollback()
        except psycopg.Error as error:
            # The pool throws this connection away and checks out another.
            raise DisconnectionError(str(error)) from error


def _sqlite_engine(url: str) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record):
        # Let SQLAlchemy, not the driver, decide when transactions begin (see "begin").
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # What a transaction deletes or overwrites (an erased attendee) is zeroed in the
        # file, not left in free space for anyone with a copy of it to read.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def clear_write_ahead_log(engine: Engine) -> None:
    """On SQLite, copy the write-ahead log into the database and empty it: the log keeps the
    pages as they were before each transaction until then, erased data included. Readers in
    the middle of a read make it wait for them (busy_timeout). Nothing on PostgreSQL, whose
    WAL is the server's (docs/architecture.md, "Erasure on PostgreSQL")."""
    if engine.dialect.name != "sqlite":
        return
    connection = engine.raw_connection()
    try:
        busy = connection.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    finally:
        connection.close()
    if busy:
        log.warning("write-ahead log not emptied: the database stayed busy")


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database of `url` if it does not exist yet."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return
    server = create_engine(
        parsed.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=None
    )
    try:
        with server.connect() as connection:
            exists = connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}
            )
            if not exists:
                log.info("creating database %s", parsed.database)
                connection.exec_driver_sql(f'CREATE DATABASE "{parsed.database}"')
    finally:
        server.dispose()


def migrate(engine: Engine, migrations_dir: Path, secret_box: SecretBox | None = None) -> None:
    """Bring the service's database to the newest Alembic revision. A revision that seals
    secrets stored before finds `secret_box` in its config's attributes."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        config.attributes["secret_box"] = secret_box
        command.upgrade(config, "head")


def database_reachable(engine: Engine) -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except OperationalError:
        return False


# Staged rows up to this many go to PostgreSQL in one statement; more (an offline batch) go
# table by table, each in one executemany.
ROWS_IN_ONE_STATEMENT = 8


def insert_rows(connection: Connection, staged: list[tuple[Table, list[dict]]]) -> None:
    """Insert each table's rows (rows of one table have the same columns). On PostgreSQL a
    handful go in one statement, an INSERT whose WITH clauses insert the others: a door
    scan's admission, scan and event then cost one statement and round trip, and about half
    the CPU of three INSERTs. More go table by table, each in one executemany."""
    count = sum(len(rows) for _table, rows in staged)
    if connection.dialect.name == "postgresql" and 0 < count <= ROWS_IN_ONE_STATEMENT:
        each = [(table, row) for table, rows in staged for row in rows]
        parameters = {
            f"r{index}_{name}": value
            for index, (_table, row) in enumerate(each)
            for name, value in row.items()
        }
        shape = tuple((table, tuple(row)) for table, row in each)
        connection.execute(_insert_together(shape), parameters)
        return
    for table, rows in staged:
        if rows:
            connection.execute(_insert_into(table), rows)


@lru_cache(maxsize=256)
def _insert_into(table: Table) -> Insert:
    return table.insert()


@lru_cache(maxsize=256)
def _insert_together(shape: tuple[tuple[Table, tuple[str, ...]], ...]) -> Insert:
    """One INSERT for rows of these tables and columns, built once per shape (building it
    costs more than running it)."""

    def insert(index: int, table: Table, names: tuple[str, ...]) -> Insert:
        return table.insert().values({name: bindparam(f"r{index}_{name}") for name in names})

    *others, (last_table, last_names) = shape
    statement = insert(len(others), last_table, last_names)
    if others:
        ctes = [
            insert(index, *table_names).cte(f"r{index}") for index, table_names in enumerate(others)
        ]
        statement = statement.add_cte(*ctes)
    return statement


class _Open:
    """What one open transaction holds until it commits: its session, the rows and events
    staged for its commit, and what to run after it."""

    __slots__ = ("session", "staged", "events", "on_commit")

    def __init__(self, session: Session):
        self.session = session
        self.staged: list[tuple[Table, list[dict]]] = []
        # Whether it wrote or staged an event: its commit then wakes the outbox relay.
        self.events = False
        self.on_commit: list[Callable[[], None]] = []


class Transaction:
    """An open database transaction, as the code working inside it sees it: its `session`,
    the one way to write an event (`publish`) and the one way to stage rows (`stage`). It
    has no commit: whoever opened the transaction commits it.

    A consumer's function receives one from shared/bus/inbox.py process_once, which opened
    the transaction and commits it once the function returns. A route's service function
    receives a UnitOfWork, a Transaction it begins and commits itself, and hands it on as a
    Transaction to what it calls.

    Events and staged rows are inserted together at the commit, in one statement where the
    database allows (insert_rows): a door scan's admission, scan and event cost one round
    trip on PostgreSQL. flush() inserts them earlier, which only a caller that must keep a
    row lock it takes next short needs (registration's service._announce_then_take_place and
    places.leave: every registration of a ticket type queues for its counter's row).

    `secret_box` is what the service seals the secrets it stores with (the runtime's).
    """

    def __init__(self, outbox_rows, secret_box: SecretBox | None, opened: _Open | None = None):
        self._outbox_rows = outbox_rows
        self.secret_box = secret_box
        self._open = opened
        self.session: Session | None = opened.session if opened is not None else None

    @property
    def outbox_table(self) -> Table:
        return self._outbox_rows.table

    def publish(self, event_type: str, *data: dict) -> list[str]:
        """Write events of one type, each checked against its contract now, to the outbox
        with this transaction's other changes; their envelope ids. Many at once (an offline
        batch of 10,000 scans) are checked in one pass (OutboxRows.rows)."""
        if not data:
            return []
        correlation_id = current_correlation_id()
        if len(data) == 1:
            rows = [self._outbox_rows.row(event_type, data[0], correlation_id)]
        else:
            rows = self._outbox_rows.rows(event_type, list(data), correlation_id)
        self.stage(self._outbox_rows.table, rows)
        self._open.events = True
        return [row["id"] for row in rows]

    def stage(self, table: Table, rows: list[dict]) -> None:
        """Insert `rows` into `table` with this transaction's events (rows of one table
        have the same columns)."""
        self._open.staged.append((table, rows))

    def flush(self) -> None:
        """Send what this transaction holds so far, inside it: the ORM's pending changes,
        then the staged rows and events. The commit sends whatever comes after."""
        opened = self._open
        # What the ORM holds first: a staged row may refer to it.
        opened.session.flush()
        if opened.staged:
            insert_rows(opened.session.connection(), opened.staged)
            opened.staged = []

    def on_commit(self, action: Callable[[], None]) -> None:
        """Run `action` once this transaction has committed (never if it rolls back)."""
        self._open.on_commit.append(action)


class UnitOfWork(Transaction):
    """A transaction that its holder begins and commits: what a route's service function
    receives. `with uow: ...; uow.commit()`; leaving without commit rolls back. Inside, it is
    the Transaction that the functions it calls receive; `transaction` is the same open
    transaction without the power to commit, which process_once hands to a consumer.

    What is published inside goes to the outbox in the same transaction, so a state change
    and its event are stored together or not at all.
    """

    def __init__(
        self,
        session_factory: sessionmaker,
        outbox_rows,
        after_commit: Callable[[], None] = lambda: None,
        secret_box: SecretBox | None = None,
    ):
        super().__init__(outbox_rows, secret_box)
        self._session_factory = session_factory
        self._after_commit = after_commit

    def __enter__(self) -> "UnitOfWork":
        self._open = _Open(self._session_factory())
        self.session = self._open.session
        return self

    def __exit__(self, *exc_info) -> None:
        # close() rolls back what was not committed and, unlike rollback(), leaves loaded
        # objects readable for the caller to return.
        self.session.close()
        self._open = None
        self.session = None

    @property
    def transaction(self) -> Transaction:
        """The open transaction, for code that works in it and must not commit it."""
        return Transaction(self._outbox_rows, self.secret_box, self._open)

    def run(self, operation: Callable[..., T], *args, **kwargs) -> T:
        """Begin, call `operation(transaction, *args, **kwargs)` in the open transaction,
        commit, and return what it returned; an exception rolls everything back. The whole of
        a service function whose work lies in one domain function: the domain function gets
        the Transaction, which it cannot commit, and the service layer visibly owns it."""
        with self:
            result = operation(self.transaction, *args, **kwargs)
            self.commit()
            return result

    def commit(self) -> None:
        opened = self._open
        if opened.staged:
            self.flush()
        opened.session.commit()
        if opened.events:
            self._after_commit()
            opened.events = False
        actions, opened.on_commit = opened.on_commit, []
        for action in actions:
            action()

    def rollback(self) -> None:
        opened = self._open
        opened.session.rollback()
        opened.staged, opened.events, opened.on_commit = [], False, []
