"""The registration service's secrets at rest (issue 14): manage tokens kept only as digests,
idempotency keys that count for one client and one request, and the migration that turned
the tokens stored before into digests.

Runs services/registration/service.py against a real migrated SQLite database (the migration
on PostgreSQL too, in a scratch database of its own).
"""

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from services.registration import service as registration
from services.registration.app import DEFINITION
from services.registration.idempotency import Idempotency, IdempotencyKeyReused, fingerprint
from services.registration.models import IdempotencyRecord, Registration
from shared.db import create_database_engine, ensure_database
from shared.errors import NotFound
from shared.secret_box import SecretBox, SecretBoxError
from tests.unit.domain_fixtures import NORTHWIND

pytest_plugins = ["tests.unit.domain_fixtures"]

ADA = {"name": "Ada Lovelace", "email": "ada@example.com"}
MALLORY = {"name": "Mallory", "email": "mallory@example.com"}


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def register(desk, event, ticket_type, attendee=ADA, key="tap-1", client="198.51.100.7", **kw):
    """A registration request sent by the client at `client` with Idempotency-Key `key`."""
    return registration.register(
        desk.uow(),
        event.id,
        ticket_type.id,
        attendee,
        idempotency=Idempotency(key, client, desk.runtime.secret_box),
        **kw,
    )


def records(desk) -> list[IdempotencyRecord]:
    with desk.runtime.session_factory() as session:
        return list(session.scalars(select(IdempotencyRecord)))


# --- manage tokens ----------------------------------------------------------------------


def test_a_registration_keeps_only_the_digest_of_its_manage_token(desk):
    event, ticket_type = desk.published_event()

    ada = desk.registered(event, ticket_type)

    with desk.runtime.session_factory() as session:
        [row] = session.execute(select(Registration.__table__)).all()
    assert ada.manage_token not in [str(value) for value in row]
    assert row.manage_token_sha256 == sha256(ada.manage_token)
    assert desk.current(ada).manage_token is None, "read back, a registration has no token"
    with desk.runtime.session_factory() as session:
        assert registration.attendee_registration(session, ada.id, ada.manage_token).id == ada.id


def test_the_digest_itself_opens_nothing(desk):
    event, ticket_type = desk.published_event()
    ada = desk.registered(event, ticket_type)

    with desk.runtime.session_factory() as session, pytest.raises(NotFound):
        registration.attendee_registration(session, ada.id, sha256(ada.manage_token))


# --- idempotency keys -------------------------------------------------------------------


def test_the_same_request_gives_the_same_fingerprint_whatever_the_order_of_its_fields():
    request = {"ticket_type_id": "t", "attendee": ADA, "answers": {"q1": "yes", "q2": True}}
    reordered = {"answers": {"q2": True, "q1": "yes"}, "attendee": ADA, "ticket_type_id": "t"}

    assert fingerprint(request) == fingerprint(reordered)
    assert fingerprint(request) != fingerprint({**request, "attendee": MALLORY})
    assert fingerprint(request) != fingerprint({**request, "answers": {"q1": "yes"}})


def test_another_request_under_a_used_key_is_refused_and_changes_nothing(desk):
    event, ticket_type = desk.published_event()
    register(desk, event, ticket_type, ADA)
    published = desk.published()

    with pytest.raises(IdempotencyKeyReused) as refusal:
        register(desk, event, ticket_type, MALLORY)

    assert refusal.value.status == 422
    assert "Ada" not in str(refusal.value.extra) + refusal.value.detail
    assert len(desk.registrations_of(event)) == 1
    assert desk.published() == published


def test_a_key_counts_for_the_client_that_sent_it_and_the_event_it_was_sent_to(desk):
    event, ticket_type = desk.published_event()
    other_event, other_ticket_type = desk.published_event()
    ada = register(desk, event, ticket_type, ADA, client="198.51.100.7")

    from_elsewhere = register(desk, event, ticket_type, ADA, client="203.0.113.9")
    at_another_event = register(desk, other_event, other_ticket_type, ADA, client="198.51.100.7")

    assert from_elsewhere.created and at_another_event.created
    ids = {ada.registration.id, from_elsewhere.registration.id, at_another_event.registration.id}
    assert len(ids) == 3


def test_the_manage_token_kept_for_a_repeat_is_sealed_with_the_instances_key(desk):
    event, ticket_type = desk.published_event()
    ada = register(desk, event, ticket_type).registration

    [record] = records(desk)

    assert ada.manage_token.encode() not in record.sealed_manage_token
    thief = SecretBox(b"\x01" * 32)
    with pytest.raises(SecretBoxError):
        thief.open(record.sealed_manage_token, f"manage token of registration {ada.id}")
    again = register(desk, event, ticket_type).registration
    assert again.manage_token == ada.manage_token


def test_a_key_is_forgotten_a_day_after_its_request(desk):
    event, ticket_type = desk.published_event()
    sent_at = datetime.now(UTC)
    first = register(desk, event, ticket_type, now=sent_at).registration

    assert (
        registration.forget_expired_idempotency_keys(desk.uow(), now=sent_at + timedelta(hours=23))
        == 0
    )
    assert register(desk, event, ticket_type).registration.id == first.id
    assert (
        registration.forget_expired_idempotency_keys(desk.uow(), now=sent_at + timedelta(hours=24))
        == 1
    )

    later = register(desk, event, ticket_type)
    assert later.created and later.registration.id != first.id


def test_erasing_an_attendee_forgets_the_request_their_key_remembered(desk):
    event, ticket_type = desk.published_event()
    ada = register(desk, event, ticket_type, ADA, key="ada").registration
    register(desk, event, ticket_type, MALLORY, key="mallory")

    registration.erase_attendee(desk.uow(), NORTHWIND, ada.id)

    assert [record.key for record in records(desk)] == ["mallory"]


def test_erasing_an_event_after_its_retention_period_forgets_every_key_sent_to_it(desk):
    event, ticket_type = desk.published_event(retention_days=0)
    register(desk, event, ticket_type, ADA, key="ada")
    register(desk, event, ticket_type, MALLORY, key="mallory")

    registration.erase_after_retention(desk.uow(), now=event.ends_at)

    assert records(desk) == []


# --- the migration ----------------------------------------------------------------------

BEFORE_DIGESTS = "54c08f2bf990"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def empty_database(request, tmp_path):
    """A registration database of its own: a SQLite file, or a scratch PostgreSQL database
    made for the test and dropped after it."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/registration.db"
        return
    server = make_url(request.getfixturevalue("postgres_url"))
    url = server.set(database=f"scratch_registration_secrets_{uuid.uuid4().hex[:12]}")
    ensure_database(url.render_as_string(hide_password=False))
    yield url.render_as_string(hide_password=False)
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE "{url.database}" WITH (FORCE)')
    admin.dispose()


def upgrade(engine, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(DEFINITION.migrations_dir))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def test_manage_links_sent_before_tokens_were_digests_keep_opening(empty_database):
    engine = create_database_engine(empty_database)
    upgrade(engine, BEFORE_DIGESTS)
    links = {str(uuid.uuid4()): f"plain-token-{n}" for n in range(3)}
    with engine.begin() as connection:
        store_the_old_way(connection, links)

    upgrade(engine, "head")

    with Session(engine) as session:
        for registration_id, token in links.items():
            opened = registration.attendee_registration(session, registration_id, token)
            assert opened.manage_token_sha256 == sha256(token)
        stored = session.execute(select(Registration.__table__)).all()
        assert not any(token in str(row) for row in stored for token in links.values())
        assert session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 0
    engine.dispose()


def store_the_old_way(connection, links: dict[str, str]) -> None:
    """An event, a ticket type and registrations as revision 54c08f2bf990 stored them: the
    manage token itself, and an idempotency key on the registration."""
    now = datetime.now(UTC)
    event_id, ticket_type_id = str(uuid.uuid4()), str(uuid.uuid4())
    connection.execute(
        text(
            "INSERT INTO events (id, organisation_id, title, description, venue, timezone,"
            " starts_at, ends_at, early_entry_minutes, status, created_at)"
            " VALUES (:id, 'northwind', 'Demo Night', '', '', 'Asia/Hong_Kong',"
            " :now, :now, 120, 'published', :now)"
        ),
        {"id": event_id, "now": now},
    )
    connection.execute(
        text(
            "INSERT INTO ticket_types (id, event_id, name, quota, confirmed_count)"
            " VALUES (:id, :event_id, 'General', 10, 3)"
        ),
        {"id": ticket_type_id, "event_id": event_id},
    )
    connection.execute(
        text(
            "INSERT INTO registrations (id, event_id, ticket_type_id, attendee_name,"
            " attendee_email, status, manage_token, idempotency_key, created_at, updated_at)"
            " VALUES (:id, :event_id, :ticket_type_id, 'Ada Lovelace', 'ada@example.com',"
            " 'confirmed', :token, :key, :now, :now)"
        ),
        [
            {
                "id": registration_id,
                "event_id": event_id,
                "ticket_type_id": ticket_type_id,
                "token": token,
                "key": f"key-{token}",
                "now": now,
            }
            for registration_id, token in links.items()
        ],
    )
