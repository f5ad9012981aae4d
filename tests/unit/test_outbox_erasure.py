"""An erasure takes the attendee out of the service's outbox (shared/bus/outbox.py,
forget_attendees): the sent events that name the registration are deleted in the erasure's
transaction, and once it commits SQLite's write-ahead log is emptied of their bytes. Events
not sent yet stay for their consumers."""

from pathlib import Path

from sqlalchemy import select

from services.registration import service
from shared.bus.events import EVENT_SCHEMAS
from shared.bus.outbox import EVENTS_NAMING_ATTENDEES, forget_attendees
from tests.unit.domain_fixtures import NORTHWIND
from tests.unit.test_outbox_pruning import relay_all

pytest_plugins = ["tests.unit.domain_fixtures"]


def events_naming(desk, registration) -> list[tuple[str, bool]]:
    """(type, sent) of the outbox's events about `registration`, oldest first."""
    outbox = desk.runtime.tables.outbox
    with desk.runtime.session_factory() as session:
        rows = session.execute(
            select(outbox.c.envelope, outbox.c.sent_at).order_by(outbox.c.created_at)
        ).all()
    return [
        (row.envelope["type"], row.sent_at is not None)
        for row in rows
        if row.envelope["data"].get("registration_id") == registration.id
    ]


def write_ahead_log(desk) -> Path:
    return desk.runtime.settings.data_dir / "registration.db-wal"


def test_every_event_that_names_an_attendee_is_forgotten():
    naming = {
        event_type
        for event_type, schema in EVENT_SCHEMAS.items()
        if any(name.startswith("attendee") for name in schema().fields)
    }
    assert naming == set(EVENTS_NAMING_ATTENDEES)


def test_an_erasure_deletes_the_sent_events_naming_the_attendee_and_no_others(desk):
    event, ticket_type = desk.published_event()
    ada = desk.registered(event, ticket_type, name="Ada Lovelace")
    grace = desk.registered(event, ticket_type, name="Grace Hopper")
    desk.cancel(ada)  # registration.cancelled names nobody: it stays
    relay_all(desk.runtime)

    service.erase_attendee(desk.uow(), NORTHWIND, ada.id)

    assert events_naming(desk, ada) == [
        ("registration.cancelled", True),
        ("registration.erased", False),
    ]
    assert events_naming(desk, grace) == [("registration.confirmed", True)]
    assert not any("Ada" in str(envelope) for envelope in desk.published())


def test_an_event_not_sent_yet_is_kept_for_its_consumers(desk):
    event, ticket_type = desk.published_event()
    ada = desk.registered(event, ticket_type, name="Ada Lovelace")  # the broker is down

    service.erase_attendee(desk.uow(), NORTHWIND, ada.id)

    assert events_naming(desk, ada) == [
        ("registration.confirmed", False),
        ("registration.erased", False),
    ]


def test_the_write_ahead_log_is_emptied_once_the_erasure_commits(desk):
    event, ticket_type = desk.published_event()
    ada = desk.registered(event, ticket_type, name="Ada Lovelace")
    relay_all(desk.runtime)
    assert write_ahead_log(desk).stat().st_size > 0

    uow = desk.uow()
    with uow:
        forget_attendees(uow, [ada.id])
        assert write_ahead_log(desk).stat().st_size > 0, "not before the commit"
        uow.commit()

    assert write_ahead_log(desk).stat().st_size == 0


def test_an_erasure_rolled_back_deletes_nothing_and_leaves_the_log(desk):
    event, ticket_type = desk.published_event()
    ada = desk.registered(event, ticket_type, name="Ada Lovelace")
    relay_all(desk.runtime)

    uow = desk.uow()
    with uow:
        forget_attendees(uow, [ada.id])

    assert events_naming(desk, ada) == [("registration.confirmed", True)]
    assert write_ahead_log(desk).stat().st_size > 0
