"""Who owns a transaction (shared/db.py): a route's service function gets a UnitOfWork it
begins and commits; a consumer gets the open Transaction that shared/bus/inbox.py
process_once began, which has no commit, and process_once commits its work with the inbox
record or neither."""

import uuid

import pytest
from sqlalchemy import Column, MetaData, String, Table, func, select

from shared import db
from shared.bus.inbox import define_inbox_table, process_once
from tests.integration.test_staged_inserts import stored, unit_of_work


@pytest.fixture
def database(tmp_path):
    engine = db.create_database_engine(f"sqlite:///{tmp_path}/transactions.db")
    metadata = MetaData()
    rows = Table("rows", metadata, Column("id", String(36), primary_key=True))
    inbox = define_inbox_table(metadata)
    metadata.create_all(engine)
    yield engine, rows, inbox
    engine.dispose()


def an_event() -> dict:
    return {"id": str(uuid.uuid4()), "type": "test.happened"}


def test_a_consumer_works_in_a_transaction_it_cannot_commit(database):
    engine, rows, inbox = database
    given = []

    def handle(tx: db.Transaction, data: dict) -> None:
        given.append(tx)
        tx.stage(rows, [{"id": data["id"]}])

    assert process_once(unit_of_work(engine), inbox, an_event(), {"id": "r1"}, handle)

    (tx,) = given
    assert isinstance(tx, db.Transaction) and not isinstance(tx, db.UnitOfWork)
    assert not hasattr(tx, "commit") and not hasattr(tx, "rollback")
    assert stored(engine, rows) == 1 and stored(engine, inbox) == 1


def test_a_consumer_that_fails_leaves_neither_its_work_nor_the_inbox_record(database):
    engine, rows, inbox = database

    def handle(tx: db.Transaction, data: dict) -> None:
        tx.stage(rows, [{"id": "r1"}])
        tx.flush()
        raise RuntimeError("the handler failed")

    with pytest.raises(RuntimeError):
        process_once(unit_of_work(engine), inbox, an_event(), {}, handle)

    assert stored(engine, rows) == 0 and stored(engine, inbox) == 0


def test_flush_writes_what_is_staged_inside_the_transaction_before_its_commit(database):
    engine, rows, _inbox = database
    uow = unit_of_work(engine)

    with uow:
        uow.stage(rows, [{"id": "r1"}])
        uow.flush()
        inside = uow.session.scalar(select(func.count()).select_from(rows))
        uow.commit()

    assert inside == 1
    assert stored(engine, rows) == 1
