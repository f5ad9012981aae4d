"""Rows staged in a unit of work (stage) arrive at its commit, all of them or none:
on PostgreSQL a handful in one statement, more table by table; on SQLite table by table."""

import pytest
from sqlalchemy import Column, MetaData, String, Table, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from shared import db
from tests.support import statements_sent


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def database(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/staged.db"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = db.create_database_engine(url)
    metadata = MetaData()
    tables = [
        Table(f"staged_{name}", metadata, Column("id", String(36), primary_key=True))
        for name in ("admissions", "scans", "events")
    ]
    metadata.drop_all(engine)
    metadata.create_all(engine)
    yield engine, tables
    metadata.drop_all(engine)
    engine.dispose()


def unit_of_work(engine) -> db.UnitOfWork:
    return db.UnitOfWork(sessionmaker(engine), outbox_rows=None)


def stored(engine, table) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(table))


def inserts_sent(engine, action) -> int:
    return sum(word in ("INSERT", "WITH") for word in statements_sent(engine, action))


def test_staged_rows_of_several_tables_arrive_at_commit(database):
    engine, (admissions, scans, events) = database
    uow = unit_of_work(engine)

    def stage_and_commit():
        with uow:
            uow.stage(admissions, [{"id": "a1"}])
            uow.stage(scans, [{"id": "s1"}, {"id": "s2"}])
            uow.stage(events, [{"id": "e1"}])
            assert stored(engine, scans) == 0, "nothing is written before the commit"
            uow.commit()

    statements = inserts_sent(engine, stage_and_commit)

    assert [stored(engine, table) for table in (admissions, scans, events)] == [1, 2, 1]
    assert statements == (1 if engine.dialect.name == "postgresql" else 3)


def test_one_conflicting_row_leaves_all_staged_rows_out(database):
    engine, (admissions, scans, events) = database
    uow = unit_of_work(engine)
    with uow:
        uow.stage(scans, [{"id": "s1"}])
        uow.commit()

    with pytest.raises(IntegrityError), uow:
        uow.stage(admissions, [{"id": "a1"}])
        uow.stage(scans, [{"id": "s1"}])
        uow.stage(events, [{"id": "e1"}])
        uow.commit()

    assert [stored(engine, table) for table in (admissions, scans, events)] == [0, 1, 0]


def test_rows_staged_without_a_commit_are_not_written(database):
    engine, (admissions, _scans, _events) = database
    uow = unit_of_work(engine)

    with uow:
        uow.stage(admissions, [{"id": "a1"}])

    assert stored(engine, admissions) == 0


def test_many_rows_go_table_by_table(database):
    engine, (admissions, scans, _events) = database
    uow = unit_of_work(engine)
    many = db.ROWS_IN_ONE_STATEMENT + 1

    def stage_and_commit():
        with uow:
            uow.stage(admissions, [{"id": f"a{n}"} for n in range(many)])
            uow.stage(scans, [{"id": f"s{n}"} for n in range(many)])
            uow.commit()

    statements = inserts_sent(engine, stage_and_commit)

    assert [stored(engine, admissions), stored(engine, scans)] == [many, many]
    assert statements == 2
