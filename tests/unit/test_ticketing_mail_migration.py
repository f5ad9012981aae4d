"""Ticketing's mail outbox moves to the shared shape (revision 79ef1bedb594, issue 17) without
losing a row: every mail keeps its status, attempts, times and error, becomes ticket mail
about its ticket, and is found by its registration for an erasure. On SQLite, and on
PostgreSQL in a scratch database of its own."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from services.ticketing.app import DEFINITION
from services.ticketing.mail import outbox as ticket_mail_outbox
from services.ticketing.models import Base, OutgoingMail, mail_outbox, tables
from shared.bus.outbox import OutboxRows
from shared.db import UnitOfWork, create_database_engine, ensure_database
from shared.mail import outbox

BEFORE_THE_SHARED_SHAPE = "502071c2d1e6"
NOW = datetime(2030, 5, 20, 9, 0, tzinfo=UTC)
WHEN = sa.DateTime(timezone=True)
# What every mail row keeps through the migration.
KEPT = ("recipient", "status", "attempts", "next_attempt_at", "created_at", "sent_at", "last_error")


def old_table(name: str, *columns: str | sa.ColumnClause) -> sa.TableClause:
    """A table as revision 502071c2d1e6 left it, as far as the mail needs it."""
    return sa.table(name, *(sa.column(c) if isinstance(c, str) else c for c in columns))


events = old_table(
    "events",
    *("id", "organisation_id", "title", "venue", "timezone", "early_entry_minutes", "status"),
    sa.column("starts_at", WHEN),
    sa.column("ends_at", WHEN),
    sa.column("ticket_type_names", sa.JSON),
)
signing_keys = old_table(
    "signing_keys",
    *("key_id", "event_id", "public_key"),
    sa.column("created_at", WHEN),
    sa.column("sealed_private_key", sa.LargeBinary),
)
tickets = old_table(
    "tickets",
    *("id", "registration_id", "event_id", "ticket_type_id", "attendee_name", "attendee_email"),
    *("status", "payload", "key_id", "qr_key_sha256", "manage_token_sha256"),
    sa.column("valid_from", WHEN),
    sa.column("valid_until", WHEN),
    sa.column("issued_at", WHEN),
)
old_mail_outbox = old_table(
    "mail_outbox",
    *("id", "ticket_id", "recipient", "status", "attempts", "last_error"),
    sa.column("next_attempt_at", WHEN),
    sa.column("created_at", WHEN),
    sa.column("sent_at", WHEN),
)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def engine(request, tmp_path):
    """A ticketing database of its own: a SQLite file, or a scratch PostgreSQL database made
    for the test and dropped after it."""
    if request.param == "sqlite":
        engine = create_database_engine(f"sqlite:///{tmp_path}/ticketing.db")
        yield engine
        engine.dispose()
        return
    server = make_url(request.getfixturevalue("postgres_url"))
    url = server.set(database=f"scratch_ticketing_mail_{uuid.uuid4().hex[:12]}")
    ensure_database(url.render_as_string(hide_password=False))
    engine = create_database_engine(url.render_as_string(hide_password=False))
    yield engine
    engine.dispose()
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE "{url.database}" WITH (FORCE)')
    admin.dispose()


def migrate_to(engine, revision: str, downgrade: bool = False) -> None:
    config = Config()
    config.set_main_option("script_location", str(DEFINITION.migrations_dir))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if downgrade else command.upgrade)(config, revision)


def a_ticket(connection, event_id: str, key_id: str) -> dict:
    ticket = {
        "id": str(uuid.uuid4()),
        "registration_id": str(uuid.uuid4()),
        "event_id": event_id,
        "ticket_type_id": str(uuid.uuid4()),
        "attendee_name": "Ada Lovelace",
        "attendee_email": "ada@example.com",
        "status": "valid",
        "payload": "LG1:NOT-SIGNED-IN-THIS-TEST",
        "key_id": key_id,
        "qr_key_sha256": "ab" * 32,
        "manage_token_sha256": "cd" * 32,
        "valid_from": NOW,
        "valid_until": NOW + timedelta(hours=4),
        "issued_at": NOW,
    }
    connection.execute(tickets.insert().values(ticket))
    return ticket


def old_mail(ticket: dict, status: str, attempts: int, last_error=None, sent_at=None) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "ticket_id": ticket["id"],
        "recipient": ticket["attendee_email"],
        "status": status,
        "attempts": attempts,
        "next_attempt_at": NOW + timedelta(seconds=30 * 2**attempts),
        "created_at": NOW,
        "sent_at": sent_at,
        "last_error": last_error,
    }


def mail_as_before(engine) -> tuple[list[dict], dict[str, str]]:
    """Three mails as revision 502071c2d1e6 kept them (sent, waiting, given up), and the
    registration of each mail's ticket."""
    event_id, key_id = str(uuid.uuid4()), "00c0ffee"
    with engine.begin() as connection:
        connection.execute(
            events.insert().values(
                id=event_id,
                organisation_id="northwind",
                title="Demo Night",
                venue="Hall A",
                timezone="UTC",
                starts_at=NOW,
                ends_at=NOW + timedelta(hours=4),
                early_entry_minutes=60,
                status="published",
                ticket_type_names={},
            )
        )
        connection.execute(
            signing_keys.insert().values(
                key_id=key_id,
                event_id=event_id,
                public_key="k" * 43,
                created_at=NOW,
                sealed_private_key=b"\0" * 60,
            )
        )
        first = a_ticket(connection, event_id, key_id)
        second = a_ticket(connection, event_id, key_id)
        mails = [
            old_mail(first, "sent", 2, sent_at=NOW + timedelta(seconds=31)),
            old_mail(
                second, "pending", 1, "ConnectionRefusedError: [Errno 111] Connection refused"
            ),
            old_mail(second, "failed", 1, "SMTPRecipientsRefused: 550 no such user"),
        ]
        connection.execute(old_mail_outbox.insert(), mails)
    registrations = {first["id"]: first["registration_id"], second["id"]: second["registration_id"]}
    return mails, registrations


def test_every_mail_row_becomes_ticket_mail_about_its_ticket(engine):
    migrate_to(engine, BEFORE_THE_SHARED_SHAPE)
    before, registration_of = mail_as_before(engine)

    migrate_to(engine, "head")

    with Session(engine) as session:
        after = {mail.id: mail for mail in session.scalars(sa.select(OutgoingMail))}
    assert sorted(after) == sorted(mail["id"] for mail in before)
    for old in before:
        mail = after[old["id"]]
        assert (mail.kind, mail.about_id) == (ticket_mail_outbox.TICKET_MAIL, old["ticket_id"])
        assert mail.registration_id == registration_of[old["ticket_id"]]
        assert {name: getattr(mail, name) for name in KEPT} == {name: old[name] for name in KEPT}
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []  # the schema is the models'


def test_the_migrated_mail_is_relayed_and_erased_like_new_mail(engine):
    migrate_to(engine, BEFORE_THE_SHARED_SHAPE)
    before, registration_of = mail_as_before(engine)
    migrate_to(engine, "head")

    def uow() -> UnitOfWork:
        return UnitOfWork(
            sessionmaker(engine, expire_on_commit=False), OutboxRows(tables.outbox, "ticketing")
        )

    due = outbox.claim_next(uow(), mail_outbox, NOW + timedelta(hours=1))
    assert (due.id, due.kind) == (before[1]["id"], ticket_mail_outbox.TICKET_MAIL)

    erasure = uow()
    with erasure:
        ticket_mail_outbox.forget_recipient(
            erasure.transaction, registration_of[before[1]["ticket_id"]]
        )
        erasure.commit()
    with Session(engine) as session:
        statuses = {
            mail.id: (mail.status, mail.recipient)
            for mail in session.scalars(sa.select(OutgoingMail))
        }
    assert statuses == {
        before[0]["id"]: ("sent", "ada@example.com"),  # another registration's
        before[1]["id"]: ("skipped", ""),
        before[2]["id"]: ("failed", ""),
    }


def test_the_migration_goes_back_while_all_mail_is_ticket_mail(engine):
    migrate_to(engine, BEFORE_THE_SHARED_SHAPE)
    before, _ = mail_as_before(engine)
    migrate_to(engine, "head")

    migrate_to(engine, BEFORE_THE_SHARED_SHAPE, downgrade=True)

    with engine.connect() as connection:
        rows = connection.execute(sa.select(old_mail_outbox.c.id, old_mail_outbox.c.ticket_id))
        assert sorted(rows) == sorted((mail["id"], mail["ticket_id"]) for mail in before)
