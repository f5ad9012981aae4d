"""Ticketing's secrets at rest (issue #14, "Secrets lie in plain text"): private signing keys
sealed under the key-encryption key and bound to their key and event, ticket URL keys
derived and stored only as digests, the migration that seals what was stored before, and
the public keys shown to the organiser of their events only."""

import hashlib
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from services.ticketing import service as ticketing
from services.ticketing import ticket_secrets
from services.ticketing.models import SigningKey, Ticket
from shared.errors import NotFound
from shared.secret_box import SecretBox, SecretBoxError
from shared.tokens import verify_ticket
from tests.ticketing_upgrade import DATABASE, database_from_before, upgrade
from tests.unit.domain_fixtures import NORTHWIND, SOUTHWIND

pytest_plugins = ["tests.unit.domain_fixtures", "tests.unit.ticketing_fixtures"]

BOX = SecretBox(bytes(range(32)))
OTHER_BOX = SecretBox(bytes(32))


def stored_key(box_office, show) -> SigningKey:
    with box_office.runtime.session_factory() as session:
        return session.scalars(select(SigningKey).where(SigningKey.event_id == str(show.id))).one()


def stored_ticket(box_office, confirmation) -> Ticket:
    return box_office.tickets_of(confirmation)[-1]


# --- signing keys -------------------------------------------------------------------------


def test_a_signing_key_is_stored_sealed_and_still_signs(box_office):
    show = box_office.show()
    ticket = box_office.ticket_of(box_office.confirm(show))

    key = stored_key(box_office, show)
    private_key = ticket_secrets.open_private_key(box_office.runtime.secret_box, key)

    assert private_key.private_bytes_raw() not in key.sealed_private_key
    assert len(key.sealed_private_key) == 60  # nonce, 32 bytes, tag
    assert verify_ticket(ticket.payload, box_office.public_keys()).key_id == key.key_id


def test_a_sealed_key_opens_only_as_the_key_and_event_it_was_sealed_for():
    sealed = ticket_secrets.seal_private_key(
        BOX, "0a1b2c3d", "event-a", Ed25519PrivateKey.generate()
    )

    for key_id, event_id in [("0a1b2c3d", "event-b"), ("ffffffff", "event-a")]:
        moved = SigningKey(key_id=key_id, event_id=event_id, sealed_private_key=sealed)
        with pytest.raises(SecretBoxError):
            ticket_secrets.open_private_key(BOX, moved)
    copied = SigningKey(key_id="0a1b2c3d", event_id="event-a", sealed_private_key=sealed)
    with pytest.raises(SecretBoxError):
        ticket_secrets.open_private_key(OTHER_BOX, copied)


# --- URL keys -----------------------------------------------------------------------------


def test_a_url_key_is_its_tickets_own_and_its_instances_own():
    ticket_id, other_id = str(uuid.uuid4()), str(uuid.uuid4())

    key = ticket_secrets.url_key(BOX, ticket_id)

    assert key == ticket_secrets.url_key(BOX, ticket_id)
    assert key not in {
        ticket_secrets.url_key(BOX, other_id),
        ticket_secrets.url_key(OTHER_BOX, ticket_id),
    }
    assert len(key) == 43  # 256 bits, base64url
    assert BOX.derived_key("ticketing: ticket URL keys") != BOX.derived_key("another purpose")


def test_only_the_tickets_url_key_opens_it_never_what_the_database_holds(box_office):
    show = box_office.show()
    ticket = stored_ticket(box_office, box_office.confirm(show))
    other = stored_ticket(box_office, box_office.confirm(show))
    box = box_office.runtime.secret_box
    key = ticket_secrets.url_key(box, ticket.id)

    assert ticket.qr_key_sha256 == hashlib.sha256(key.encode()).hexdigest()
    with box_office.runtime.session_factory() as session:
        assert ticketing.ticket_by_key(session, box, ticket.id, key).id == ticket.id
        for wrong in [
            None,
            "",
            ticket.qr_key_sha256,
            ticket_secrets.url_key(box, other.id),
            ticket_secrets.url_key(OTHER_BOX, ticket.id),
            key[:-1],
            key + "é",
        ]:
            with pytest.raises(NotFound):
                ticketing.ticket_by_key(session, box, ticket.id, wrong)


# --- the migration ------------------------------------------------------------------------


def test_the_migration_seals_stored_keys_and_keeps_stored_qr_keys_as_digests(tmp_path):
    before = database_from_before(tmp_path)

    upgrade(tmp_path, "head", BOX)

    engine = create_engine(f"sqlite:///{tmp_path / DATABASE}")
    with Session(engine) as session:
        key = session.get(SigningKey, before.key_id)
        ticket = session.get(Ticket, before.ticket_id)
    engine.dispose()
    assert ticket_secrets.open_private_key(BOX, key).private_bytes_raw() == before.private_key
    assert ticket_secrets.opens_ticket(BOX, ticket, before.mailed_key)
    assert ticket_secrets.opens_ticket(BOX, ticket, ticket_secrets.url_key(BOX, ticket.id))
    written = (tmp_path / DATABASE).read_bytes()
    assert before.private_key not in written and before.mailed_key.encode() not in written


def test_the_migration_refuses_to_leave_keys_plain_without_the_key_encryption_key(tmp_path):
    database_from_before(tmp_path)

    with pytest.raises(RuntimeError, match="loopgate migrate"):
        upgrade(tmp_path, "head")


# --- public keys --------------------------------------------------------------------------


def test_an_organiser_sees_the_keys_of_its_own_events_retired_ones_included(box_office):
    ours = box_office.show()
    theirs = box_office.show(organisation_id=SOUTHWIND.organisation_id)
    box_office.confirm(ours)
    box_office.confirm(theirs)
    first = stored_key(box_office, ours)
    box_office.rotate(ours)
    box_office.retire(ours, first.key_id)

    with box_office.runtime.session_factory() as session:
        mine = ticketing.organisation_signing_keys(session, NORTHWIND)
        other = ticketing.organisation_signing_keys(session, SOUTHWIND)

    assert [(k.event_id, k.key_id == first.key_id, k.retired_at is not None) for k in mine] == [
        (str(ours.id), True, True),
        (str(ours.id), False, False),
    ]
    assert {k.event_id for k in other} == {str(theirs.id)}
