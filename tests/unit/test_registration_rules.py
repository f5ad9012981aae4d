"""Registration rules: who gets a place, who waits, what cancelling does, who may change an event.

Runs services/registration/service.py against a real migrated SQLite database; what the
service published is read back from its outbox.
"""

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import update

from services.registration.models import Event, TicketType
from shared.errors import Conflict, InvalidRequest, NotFound
from tests.support import statements_sent
from tests.unit.domain_fixtures import NORTHWIND, SOUTHWIND

pytest_plugins = ["tests.unit.domain_fixtures"]


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def ids_in(envelopes: list[dict]) -> list[str]:
    return [envelope["data"]["registration_id"] for envelope in envelopes]


# --- places and the waitlist -------------------------------------------------------------


def test_the_first_registrations_up_to_the_quota_are_confirmed_and_the_rest_waitlisted_in_order(
    desk,
):
    event, ticket_type = desk.published_event(quota=2)

    answers = [
        desk.registered(event, ticket_type, name=name)
        for name in ("Ada Lovelace", "Grace Hopper", "Alan Turing", "Joan Clarke")
    ]

    assert [r.status for r in answers] == ["confirmed", "confirmed", "waitlisted", "waitlisted"]
    assert ids_in(desk.published("registration.confirmed")) == [r.id for r in answers[:2]]
    assert ids_in(desk.published("registration.waitlisted")) == [r.id for r in answers[2:]]


def test_a_confirmation_carries_the_attendee_and_only_a_digest_of_the_manage_token(desk):
    event, ticket_type = desk.published_event(quota=5)

    ada = desk.registered(event, ticket_type, name="Ada Lovelace", email="ada@example.com")

    [confirmed] = desk.published("registration.confirmed")
    assert confirmed["data"] == {
        "registration_id": ada.id,
        "event_id": event.id,
        "ticket_type_id": ticket_type.id,
        "attendee": {"name": "Ada Lovelace", "email": "ada@example.com", "locale": "en"},
        "manage_token_sha256": sha256(ada.manage_token),
    }
    assert ada.manage_token not in str(desk.published())


def test_a_waitlisted_registration_is_announced_as_waitlisted_and_not_as_confirmed(desk):
    event, ticket_type = desk.published_event(quota=0)

    joan = desk.registered(event, ticket_type, name="Joan Clarke")

    assert joan.status == "waitlisted"
    [waitlisted] = desk.published("registration.waitlisted")
    assert waitlisted["data"] == {
        "registration_id": joan.id,
        "event_id": event.id,
        "ticket_type_id": ticket_type.id,
    }
    assert desk.published("registration.confirmed") == []


def _counter_moved_before_the_update(monkeypatch, confirmed_count):
    """Between the registration's read of the place counter and its conditional UPDATE,
    other registrations move the counter to `confirmed_count` (in the same transaction here:
    SQLite lets one writer in at a time)."""
    from services.registration import registrations

    take_place = registrations.take_place

    def moved_then_taken(session, ticket_type_id):
        session.execute(
            update(TicketType)
            .where(TicketType.id == ticket_type_id)
            .values(confirmed_count=confirmed_count)
        )
        return take_place(session, ticket_type_id)

    monkeypatch.setattr(registrations, "take_place", moved_then_taken)


def test_a_place_taken_after_the_counter_was_read_leaves_the_registration_waitlisted(
    desk, monkeypatch
):
    event, ticket_type = desk.published_event(quota=1)
    _counter_moved_before_the_update(monkeypatch, confirmed_count=1)

    ada = desk.registered(event, ticket_type, name="Ada Lovelace")

    assert ada.status == "waitlisted"
    assert desk.current(ada).status == "waitlisted"
    assert desk.published_types() == ["event.published", "registration.waitlisted"]


def test_a_place_freed_after_the_counter_was_read_confirms_the_registration(desk, monkeypatch):
    event, ticket_type = desk.published_event(quota=1)
    desk.registered(event, ticket_type, name="Grace Hopper")
    _counter_moved_before_the_update(monkeypatch, confirmed_count=0)

    ada = desk.registered(event, ticket_type, name="Ada Lovelace")

    assert ada.status == "confirmed"
    assert desk.current(ada).status == "confirmed"
    assert ids_in(desk.published("registration.confirmed"))[-1] == ada.id
    assert desk.published("registration.waitlisted") == [], "the prediction was taken back"


def test_a_registration_takes_four_statements_and_the_commit(desk):
    """The ticket drop's hot path: the event with its ticket type, the registration, the
    event for the bus, and last the place, whose row lock is then held only until the
    commit."""
    event, ticket_type = desk.published_event(quota=1)

    statements = statements_sent(desk.runtime.engine, lambda: desk.registered(event, ticket_type))

    # SQLite's BEGIN IMMEDIATE (shared/db.py) is sent as a statement too.
    assert [s for s in statements if s != "BEGIN"] == ["SELECT", "INSERT", "INSERT", "UPDATE"]


# --- idempotency -------------------------------------------------------------------------


def test_repeating_an_idempotency_key_repeats_the_first_answer_without_registering_again(desk):
    event, ticket_type = desk.published_event(quota=1)

    first = desk.register(event, ticket_type, name="Ada Lovelace", idempotency_key="tap-1")
    again = desk.register(event, ticket_type, name="Ada Lovelace", idempotency_key="tap-1")

    assert first.created and not again.created
    assert again.registration.id == first.registration.id
    assert again.registration.status == "confirmed"
    assert again.registration.manage_token == first.registration.manage_token
    assert len(desk.registrations_of(event)) == 1
    assert desk.published_types() == ["event.published", "registration.confirmed"]


def test_a_repeated_idempotency_key_takes_no_second_place(desk):
    event, ticket_type = desk.published_event(quota=2)
    desk.register(event, ticket_type, name="Ada Lovelace", idempotency_key="tap-1")
    desk.register(event, ticket_type, name="Ada Lovelace", idempotency_key="tap-1")

    grace = desk.registered(event, ticket_type, name="Grace Hopper")

    assert grace.status == "confirmed"


# --- which events take registrations -------------------------------------------------------


def test_a_draft_event_cannot_be_registered_for_as_if_it_did_not_exist(desk):
    event = desk.draft_event()
    ticket_type = desk.add_ticket_type(event, quota=10)

    with pytest.raises(NotFound):
        desk.register(event, ticket_type)
    assert desk.published() == []


def test_registration_closes_when_the_event_ends(desk):
    event, ticket_type = desk.published_event(quota=10)

    with pytest.raises(Conflict):
        desk.register(event, ticket_type, now=event.ends_at)
    with pytest.raises(Conflict):
        desk.register(event, ticket_type, now=event.ends_at + timedelta(days=1))
    assert desk.registrations_of(event) == []


def test_registration_stays_open_until_the_very_end_of_the_event(desk):
    event, ticket_type = desk.published_event(quota=10)

    during = desk.registered(event, ticket_type, now=event.ends_at - timedelta(seconds=1))

    assert during.status == "confirmed"


def test_a_ticket_type_of_another_event_is_refused(desk):
    event, _ = desk.published_event(quota=10)
    _, other_events_ticket_type = desk.published_event(quota=10)

    with pytest.raises(InvalidRequest):
        desk.register(event, other_events_ticket_type)
    assert desk.registrations_of(event) == []


# --- cancelling ----------------------------------------------------------------------------


def test_cancelling_a_confirmed_place_promotes_the_earliest_waitlisted_registration(desk):
    event, ticket_type = desk.published_event(quota=1)
    ada = desk.registered(event, ticket_type, name="Ada Lovelace")
    grace = desk.registered(event, ticket_type, name="Grace Hopper")
    alan = desk.registered(event, ticket_type, name="Alan Turing")
    before = len(desk.published())

    cancelled = desk.cancel(ada)

    assert cancelled.status == "cancelled"
    assert desk.current(grace).status == "confirmed"
    assert desk.current(alan).status == "waitlisted"
    after = desk.published()[before:]
    assert [e["type"] for e in after] == [
        "registration.cancelled",
        "registration.promoted",
        "registration.confirmed",
    ]
    assert after[0]["data"]["registration_id"] == ada.id
    assert after[0]["data"]["previous_status"] == "confirmed"
    assert ids_in(after[1:]) == [grace.id, grace.id]
    assert after[2]["data"]["manage_token_sha256"] == sha256(grace.manage_token)


def test_a_place_freed_with_nobody_waiting_goes_to_the_next_registration(desk):
    event, ticket_type = desk.published_event(quota=1)
    ada = desk.registered(event, ticket_type, name="Ada Lovelace")

    desk.cancel(ada)
    grace = desk.registered(event, ticket_type, name="Grace Hopper")

    assert grace.status == "confirmed"
    assert desk.published("registration.promoted") == []


def test_cancelling_a_waitlisted_registration_promotes_nobody(desk):
    event, ticket_type = desk.published_event(quota=1)
    ada = desk.registered(event, ticket_type, name="Ada Lovelace")
    grace = desk.registered(event, ticket_type, name="Grace Hopper")
    alan = desk.registered(event, ticket_type, name="Alan Turing")
    before = len(desk.published())

    desk.cancel(grace)

    assert desk.current(ada).status == "confirmed"
    assert desk.current(alan).status == "waitlisted"
    after = desk.published()[before:]
    assert [e["type"] for e in after] == ["registration.cancelled"]
    assert after[0]["data"]["previous_status"] == "waitlisted"


def test_cancelling_twice_is_harmless_and_announced_once(desk):
    event, ticket_type = desk.published_event(quota=1)
    ada = desk.registered(event, ticket_type, name="Ada Lovelace")

    desk.cancel(ada)
    again = desk.cancel(ada)

    assert again.status == "cancelled"
    assert ids_in(desk.published("registration.cancelled")) == [ada.id]
    # The place was freed once: one newcomer gets it, the next one waits.
    assert desk.registered(event, ticket_type, name="Grace Hopper").status == "confirmed"
    assert desk.registered(event, ticket_type, name="Alan Turing").status == "waitlisted"


def test_a_wrong_manage_token_finds_no_registration_and_changes_nothing(desk):
    event, ticket_type = desk.published_event(quota=1)
    ada = desk.registered(event, ticket_type, name="Ada Lovelace")
    grace = desk.registered(event, ticket_type, name="Grace Hopper")

    for wrong in ("not-the-token", "", grace.manage_token):
        with pytest.raises(NotFound):
            desk.cancel(ada, manage_token=wrong)

    assert desk.current(ada).status == "confirmed"
    assert desk.published("registration.cancelled") == []


# --- organisers and their events -----------------------------------------------------------


def test_another_organisations_organiser_cannot_add_ticket_types_or_publish(desk):
    event = desk.draft_event(organiser=NORTHWIND)

    with pytest.raises(NotFound):
        desk.add_ticket_type(event, quota=10, organiser=SOUTHWIND)
    desk.add_ticket_type(event, quota=10, organiser=NORTHWIND)
    with pytest.raises(NotFound):
        desk.publish(event, organiser=SOUTHWIND)

    with desk.runtime.session_factory() as session:
        assert session.get(Event, event.id).status == "draft"
        assert session.query(TicketType).filter_by(event_id=event.id).count() == 1
    assert desk.published() == []


def test_an_event_cannot_be_published_without_a_ticket_type(desk):
    event = desk.draft_event()

    with pytest.raises(Conflict):
        desk.publish(event)

    assert desk.published() == []


def test_publishing_announces_the_event_with_its_ticket_types(desk):
    event = desk.draft_event(early_entry_minutes=45)
    ticket_type = desk.add_ticket_type(event, quota=10, name="General")

    desk.publish(event)

    [announced] = desk.published("event.published")
    assert announced["data"]["event_id"] == event.id
    assert announced["data"]["organisation_id"] == NORTHWIND.organisation_id
    assert announced["data"]["status"] == "published"
    assert announced["data"]["early_entry_minutes"] == 45
    assert announced["data"]["ticket_types"] == [
        {"id": ticket_type.id, "name": "General", "translations": {}}
    ]


def test_adding_a_ticket_type_to_a_published_event_announces_the_update(desk):
    event, general = desk.published_event(quota=10)

    backstage = desk.add_ticket_type(event, quota=5, name="Backstage")

    [updated] = desk.published("event.updated")
    assert updated["data"]["event_id"] == event.id
    assert sorted(t["id"] for t in updated["data"]["ticket_types"]) == sorted(
        [general.id, backstage.id]
    )


def test_adding_a_ticket_type_to_a_draft_event_announces_nothing(desk):
    event = desk.draft_event()

    desk.add_ticket_type(event, quota=10)

    assert desk.published() == []


@pytest.mark.parametrize("lasts", [timedelta(hours=-1), timedelta(0)], ids=["before", "at-start"])
def test_an_event_must_end_after_it_starts(desk, lasts):
    with pytest.raises(InvalidRequest):
        desk.draft_event(lasts=lasts)

    with desk.runtime.session_factory() as session:
        assert session.query(Event).count() == 0
