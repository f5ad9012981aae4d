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

import psycopg
from alembic import command
from alembic.config import Config
from sqlalchemy import Delete, Insert, Table, bindparam, create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from shared.logs import current_correlation_id
from shared.secret_box import SecretBox

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
def _delete_by_id(table: Table) -> Delete:
    return table.delete().where(table.c.id == bindparam("id"))


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


class UnitOfWork:
    """One database transaction: `with uow: ...; uow.commit()`. Leaving without commit rolls back.

    Events published inside go to the outbox in the same transaction, so a state change and
    its event are stored together or not at all. Rows staged with insert_at_commit and
    events with publish_at_commit are inserted at commit, in one statement where the
    database allows (insert_rows).

    `secret_box` is what the service seals the secrets it stores with (the runtime's).
    """

    def __init__(
        self,
        session_factory: sessionmaker,
        outbox_rows,
        after_commit: Callable[[], None] = lambda: None,
        secret_box: SecretBox | None = None,
    ):
        self._session_factory = session_factory
        self._outbox_rows = outbox_rows
        self._after_commit = after_commit
        self.secret_box = secret_box
        self.session: Session | None = None

    def __enter__(self) -> "UnitOfWork":
        self.session = self._session_factory()
        self._staged: list[tuple[Table, list[dict]]] = []
        self._published = False
        self._on_commit: list[Callable[[], None]] = []
        return self

    def __exit__(self, *exc_info) -> None:
        # close() rolls back what was not committed and, unlike rollback(), leaves loaded
        # objects readable for the caller to return.
        self.session.close()
        self.session = None

    @property
    def outbox_table(self) -> Table:
        return self._outbox_rows.table

    def on_commit(self, action: Callable[[], None]) -> None:
        """Run `action` once this transaction has committed (never if it rolls back)."""
        self._on_commit.append(action)

    def insert_at_commit(self, table: Table, rows: list[dict]) -> None:
        """Insert `rows` into `table` when the transaction commits, with its events."""
        self._staged.append((table, rows))

    def publish(self, event_type: str, data: dict) -> str:
        """Store the event in this transaction now (before a row lock that is to be held
        only until the commit, say); its envelope id."""
        row = self._outbox_rows.row(event_type, data, current_correlation_id())
        insert_rows(self.session.connection(), [(self._outbox_rows.table, [row])])
        self._published = True
        return row["id"]

    def publish_at_commit(self, event_type: str, data: dict) -> None:
        """Store the event when the transaction commits, with the rows of insert_at_commit."""
        row = self._outbox_rows.row(event_type, data, current_correlation_id())
        self.insert_at_commit(self._outbox_rows.table, [row])
        self._published = True

    def withdraw(self, envelope_id: str) -> None:
        """Take back an event publish() stored in this transaction (before it commits)."""
        self.session.connection().execute(
            _delete_by_id(self._outbox_rows.table), {"id": envelope_id}
        )

    def publish_many(self, event_type: str, items: list[dict]) -> None:
        """Many events of one type at commit (see OutboxRows.rows)."""
        rows = self._outbox_rows.rows(event_type, items, current_correlation_id())
        self.insert_at_commit(self._outbox_rows.table, rows)
        self._published = bool(items) or self._published

    def commit(self) -> None:
        if self._staged:
            # What the ORM holds first: a staged row may refer to it.
            self.session.flush()
            insert_rows(self.session.connection(), self._staged)
            self._staged = []
        self.session.commit()
        if self._published:
            self._after_commit()
            self._published = False
        actions, self._on_commit = self._on_commit, []
        for action in actions:
            action()

    def rollback(self) -> None:
        self.session.rollback()
        self._staged = []
        self._published = False
        self._on_commit = []
