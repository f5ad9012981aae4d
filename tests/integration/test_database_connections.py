"""Pooled PostgreSQL connections: a busy service does not ping a connection it used a
moment ago, and a connection that lay idle while the server dropped it is replaced before
anyone gets it."""

import time

import psycopg
import pytest
from sqlalchemy import text

from shared import db

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(postgres_url, monkeypatch):
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.2)
    engine = db.create_database_engine(postgres_url)
    yield engine
    engine.dispose()


def backend_of(engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(text("SELECT pg_backend_pid()"))


def test_a_connection_used_a_moment_ago_is_handed_out_without_a_ping(engine, monkeypatch):
    backend_of(engine)
    sent = []
    for kind in (psycopg.Connection, psycopg.Cursor):
        original = kind.execute

        def counting(self, query, *args, _original=original, **kwargs):
            sent.append(str(query))
            return _original(self, query, *args, **kwargs)

        monkeypatch.setattr(kind, "execute", counting)

    for _ in range(20):
        backend_of(engine)

    assert sent == ["SELECT pg_backend_pid()"] * 20


def test_an_idle_connection_the_server_dropped_is_replaced_before_use(engine, postgres_url):
    dropped = backend_of(engine)
    killer = db.create_database_engine(postgres_url)
    with killer.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dropped})
        connection.commit()
    killer.dispose()
    time.sleep(0.3)

    assert backend_of(engine) != dropped
