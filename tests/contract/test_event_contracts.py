"""The event contract of the bus (DESIGN.md, "The bus"), and the producers held to the consumers.

Every event type has a schema; make_envelope is the producer's edge and refuses data that
breaks the contract; read_envelope is the consumer's edge and refuses envelopes that break
it, while ignoring data fields a newer producer added. The last tests run the real embedded
system through the core flow and check what the producers actually stored in their outboxes
against what the consumers actually need.
"""

import copy
import importlib
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from services.system import SERVICES, subscriptions
from shared.bus.broker import broker_connection
from shared.bus.consumer import dead_letter_queue
from shared.bus.events import (
    ENVELOPE_VERSION,
    EVENT_SCHEMAS,
    ContractError,
    make_envelope,
    read_envelope,
)
from tests.support import new_organisation

DESIGNED_EVENT_TYPES = {
    "event.published",
    "event.updated",
    "registration.confirmed",
    "registration.waitlisted",
    "registration.cancelled",
    "registration.promoted",
    "ticket.issued",
    "ticket.revoked",
    "checkin.recorded",
    # Beyond DESIGN.md's list (docs/architecture.md): erasure reaches every service's copy.
    "registration.erased",
    # A retired signing key stops admitting at every door (docs/architecture.md).
    "signing_key.retired",
    # Members' access tokens, verified by every service (docs/architecture.md, "Identity").
    "identity.key_published",
    "member.changed",
    "access_token.revoked",
    "access_token.used",
}

ENVELOPE_FIELDS = {"id", "type", "version", "occurred_at", "source", "correlation_id", "data"}

# Event types some service consumes that the core-flow walk below does not produce yet,
# each with the reason. Empty today: the walk produces every consumed type.
NOT_PRODUCED_YET: dict[str, str] = {}

# Which services produce each event type (its `source`): one each but access_token.used,
# which every service but registration (the tokens' owner) announces.
PRODUCERS = {
    "event.published": "registration",
    "event.updated": "registration",
    "registration.confirmed": "registration",
    "registration.waitlisted": "registration",
    "registration.cancelled": "registration",
    "registration.promoted": "registration",
    "registration.erased": "registration",
    "ticket.issued": "ticketing",
    "ticket.revoked": "ticketing",
    "signing_key.retired": "ticketing",
    "checkin.recorded": "checkin",
    "identity.key_published": "registration",
    "member.changed": "registration",
    "access_token.revoked": "registration",
    "access_token.used": ("ticketing", "checkin"),
}

NOW = datetime(2030, 5, 17, 18, 0, tzinfo=UTC)


def producers_of(event_type: str) -> tuple[str, ...]:
    producers = PRODUCERS.get(event_type, ())
    return (producers,) if isinstance(producers, str) else producers


def _ids() -> dict:
    return {
        "registration_id": uuid.uuid4(),
        "event_id": uuid.uuid4(),
        "ticket_type_id": uuid.uuid4(),
    }


def sample_data(event_type: str) -> dict:
    """Data a correct producer would send for `event_type`, as Python values."""
    event_changed = {
        "event_id": uuid.uuid4(),
        "organisation_id": "default",
        "title": "Demo Day",
        "starts_at": NOW,
        "ends_at": NOW + timedelta(hours=8),
        "timezone": "Asia/Hong_Kong",
        "venue": "Hall 1",
        "translations": {"zh_Hant_HK": {"title": "示範日", "venue": "一號館"}},
        "early_entry_minutes": 120,
        "status": "published",
        "ticket_types": [
            {
                "id": uuid.uuid4(),
                "name": "General",
                "translations": {"zh_Hant_HK": {"name": "普通"}},
            }
        ],
    }
    samples = {
        "event.published": event_changed,
        "event.updated": {**event_changed, "title": "Demo Day (moved)"},
        "registration.confirmed": {
            **_ids(),
            "attendee": {"name": "陳大文", "email": "tai-man@example.com"},
            "manage_token_sha256": "ab" * 32,
        },
        "registration.waitlisted": _ids(),
        "registration.cancelled": {**_ids(), "previous_status": "confirmed"},
        "registration.promoted": _ids(),
        "registration.erased": {"registration_id": uuid.uuid4(), "event_id": uuid.uuid4()},
        "ticket.issued": {
            "ticket_id": uuid.uuid4(),
            **_ids(),
            "attendee_name": "Ada Lovelace",
            "valid_from": NOW - timedelta(hours=2),
            "valid_until": NOW + timedelta(hours=8),
            "signing_key": {"key_id": "k1", "public_key": "cHVibGljLWtleQ=="},
        },
        "ticket.revoked": {
            "ticket_id": uuid.uuid4(),
            "registration_id": uuid.uuid4(),
            "event_id": uuid.uuid4(),
            "reason": "cancelled",
        },
        "signing_key.retired": {
            "key_id": "0a1b2c3d",
            "event_id": uuid.uuid4(),
            "retired_at": NOW,
        },
        "checkin.recorded": {
            "scan_id": "door-1-0001",
            "ticket_id": uuid.uuid4(),
            "registration_id": uuid.uuid4(),
            "event_id": uuid.uuid4(),
            "list_id": uuid.uuid4(),
            "verdict": "ok",
            "direction": "in",
            "scanned_at": NOW,
        },
        "identity.key_published": {"key_id": "0a1b2c3d4e5f6a7b", "public_key": "cHVibGljLWtleQ"},
        "member.changed": {
            "member_id": uuid.uuid4(),
            "organisation_id": "default",
            "role": "door",
            "event_ids": [uuid.uuid4()],
            "removed": False,
            "signed_out_at": None,
            "version": 2,
        },
        "access_token.revoked": {"token_id": "ab" * 16, "member_id": uuid.uuid4()},
        "access_token.used": {"token_id": "ab" * 16, "member_id": uuid.uuid4(), "used_at": NOW},
    }
    return samples[event_type]


def required_fields(event_type: str) -> list[str]:
    schema = EVENT_SCHEMAS[event_type]()
    return sorted(name for name, field in schema.fields.items() if field.required)


def consumed_types() -> dict[str, set[str]]:
    """Event type -> the services that consume it, from each service's HANDLERS."""
    consumers: dict[str, set[str]] = {}
    for service in SERVICES:
        handlers = importlib.import_module(f"services.{service}.handlers").HANDLERS
        for event_type in handlers:
            consumers.setdefault(event_type, set()).add(service)
    return consumers


ALL_TYPES = sorted(DESIGNED_EVENT_TYPES)


# --- the schemas -------------------------------------------------------------------------


def test_every_event_type_of_the_design_has_a_schema_and_no_other_exists():
    assert set(EVENT_SCHEMAS) == DESIGNED_EVENT_TYPES


def test_every_consumed_event_type_has_a_schema():
    assert set(consumed_types()) <= set(EVENT_SCHEMAS)


def test_each_service_is_bound_to_exactly_the_types_it_has_handlers_for():
    for service, bound in subscriptions().items():
        handlers = importlib.import_module(f"services.{service}.handlers").HANDLERS
        assert set(bound) == set(handlers), service


# --- the producer's edge: make_envelope ----------------------------------------------------


@pytest.mark.parametrize("event_type", ALL_TYPES)
def test_a_producer_gets_a_complete_json_ready_envelope(event_type):
    envelope = make_envelope(event_type, sample_data(event_type), "registration", "corr-1")

    assert set(envelope) == ENVELOPE_FIELDS
    assert str(uuid.UUID(envelope["id"])) == envelope["id"]
    assert envelope["type"] == event_type
    assert envelope["version"] == ENVELOPE_VERSION
    assert datetime.fromisoformat(envelope["occurred_at"]).tzinfo is not None
    assert envelope["source"] == "registration"
    assert envelope["correlation_id"] == "corr-1"
    assert json.loads(json.dumps(envelope)) == envelope


@pytest.mark.parametrize("event_type", ALL_TYPES)
def test_a_consumer_reads_back_what_a_producer_made(event_type):
    data = sample_data(event_type)
    sent = json.loads(json.dumps(make_envelope(event_type, data, "ticketing", None)))

    envelope, loaded = read_envelope(sent)

    assert envelope["type"] == event_type
    assert envelope["id"] == uuid.UUID(sent["id"])
    assert envelope["correlation_id"] is None
    assert loaded == data


def test_every_envelope_has_its_own_id():
    data = sample_data("registration.waitlisted")
    ids = {make_envelope("registration.waitlisted", data, "registration", None)["id"]}
    ids.add(make_envelope("registration.waitlisted", data, "registration", None)["id"])
    assert len(ids) == 2


@pytest.mark.parametrize("event_type", ALL_TYPES)
def test_a_producer_may_not_send_a_field_the_contract_does_not_have(event_type):
    data = {**sample_data(event_type), "surprise": "not in the contract"}
    with pytest.raises(ContractError, match="surprise"):
        make_envelope(event_type, data, "registration", None)


@pytest.mark.parametrize(
    ("event_type", "field"),
    [(event_type, field) for event_type in ALL_TYPES for field in required_fields(event_type)],
)
def test_a_producer_may_not_leave_out_a_required_field(event_type, field):
    data = sample_data(event_type)
    del data[field]
    with pytest.raises(ContractError, match=field):
        make_envelope(event_type, data, "registration", None)


@pytest.mark.parametrize(
    ("event_type", "field", "value"),
    [
        ("checkin.recorded", "direction", "sideways"),
        ("checkin.recorded", "scanned_at", datetime(2030, 5, 17, 18, 0)),  # naive
        ("checkin.recorded", "ticket_id", "not-a-uuid"),
        ("event.published", "status", "draft"),
        ("event.published", "early_entry_minutes", -5),
        ("registration.confirmed", "manage_token_sha256", "too-short"),
        ("registration.confirmed", "attendee", {"name": "Ada", "email": "not-an-email"}),
    ],
)
def test_a_producer_may_not_send_a_value_the_contract_refuses(event_type, field, value):
    data = {**sample_data(event_type), field: value}
    with pytest.raises(ContractError):
        make_envelope(event_type, data, "registration", None)


def test_a_producer_may_not_invent_an_event_type():
    with pytest.raises(ContractError, match="unknown event type"):
        make_envelope("ticket.teleported", {}, "ticketing", None)


def test_a_producer_may_not_send_an_unknown_field_inside_a_nested_object():
    data = sample_data("registration.confirmed")
    data["attendee"] = {**data["attendee"], "phone": "+852 5555 0000"}
    with pytest.raises(ContractError, match="phone"):
        make_envelope("registration.confirmed", data, "registration", None)


@pytest.mark.parametrize(
    ("event_type", "field", "value"),
    [
        ("checkin.recorded", "scanned_at", "yesterday"),
        ("event.published", "early_entry_minutes", "two hours"),
    ],
)
def test_a_producer_sending_a_value_of_the_wrong_type_gets_a_contract_error(
    event_type, field, value
):
    data = {**sample_data(event_type), field: value}
    with pytest.raises(ContractError):
        make_envelope(event_type, data, "registration", None)


# --- the consumer's edge: read_envelope ---------------------------------------------------


def _sent(event_type: str = "registration.confirmed") -> dict:
    envelope = make_envelope(event_type, sample_data(event_type), "registration", None)
    return json.loads(json.dumps(envelope))


def test_a_consumer_refuses_an_unknown_event_type():
    with pytest.raises(ContractError):
        read_envelope({**_sent(), "type": "ticket.teleported"})


@pytest.mark.parametrize("version", [0, ENVELOPE_VERSION + 1, "one", None])
def test_a_consumer_refuses_another_envelope_version(version):
    with pytest.raises(ContractError):
        read_envelope({**_sent(), "version": version})


@pytest.mark.parametrize("field", sorted(ENVELOPE_FIELDS))
def test_a_consumer_refuses_an_envelope_missing_a_field(field):
    message = _sent()
    del message[field]
    with pytest.raises(ContractError):
        read_envelope(message)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", "not-a-uuid"),
        ("occurred_at", "2030-05-17T18:00:00"),  # no offset
        ("occurred_at", "last tuesday"),
        ("data", "not an object"),
    ],
)
def test_a_consumer_refuses_a_malformed_envelope_field(field, value):
    with pytest.raises(ContractError):
        read_envelope({**_sent(), field: value})


@pytest.mark.parametrize("message", [None, "text", [], 42])
def test_a_consumer_refuses_a_message_that_is_not_an_envelope(message):
    with pytest.raises(ContractError):
        read_envelope(message)


@pytest.mark.parametrize(
    ("event_type", "field"),
    [(event_type, field) for event_type in ALL_TYPES for field in required_fields(event_type)],
)
def test_a_consumer_refuses_data_missing_a_required_field(event_type, field):
    message = _sent(event_type)
    del message["data"][field]
    with pytest.raises(ContractError, match=field):
        read_envelope(message)


@pytest.mark.parametrize("event_type", ALL_TYPES)
def test_a_consumer_ignores_data_fields_a_newer_producer_added(event_type):
    message = _sent(event_type)
    expected = read_envelope(copy.deepcopy(message))[1]
    message["data"]["added_in_a_later_release"] = {"anything": [1, 2, 3]}

    _, data = read_envelope(message)

    assert "added_in_a_later_release" not in data
    assert data == expected


def test_a_consumer_ignores_a_field_added_inside_nested_data():
    message = _sent("registration.confirmed")
    message["data"]["attendee"]["pronouns"] = "she/her"
    _, data = read_envelope(message)
    assert data["attendee"] == {"name": "陳大文", "email": "tai-man@example.com"}


# --- producers held to consumers, in the real running system -------------------------------


def walk_the_core_flow(flow) -> None:
    """Every step of DESIGN.md's core flow, arranged so that each event type occurs."""
    event_id, ticket_type_id = flow.published_event(quota=1)  # event.published
    flow.add_ticket_type(event_id, quota=5, name="Press")  # event.updated
    first = flow.registered(event_id, ticket_type_id)  # registration.confirmed
    waiting = flow.registered(event_id, ticket_type_id)  # registration.waitlisted
    assert (first["status"], waiting["status"]) == ("confirmed", "waitlisted")

    ticket = flow.wait_for_ticket(first)  # ticket.issued
    flow.wait_until_in_roster(ticket["id"])
    assert flow.scan(ticket["payload"])["verdict"] == "ok"  # checkin.recorded

    # registration.cancelled, registration.promoted, then ticket.revoked and a second
    # registration.confirmed / ticket.issued for the promoted attendee.
    assert flow.cancel(first).status_code == 200
    assert flow.wait_for_ticket(waiting)["status"] == "valid"

    assert flow.erase(first).status_code == 200  # registration.erased
    [key] = flow.signing_keys(event_id)
    flow.retire_key(event_id, key["key_id"])  # signing_key.retired

    # identity.key_published at the registration worker's start; member.changed when the
    # owner joins; access_token.revoked when they sign out.
    owner = new_organisation(flow, "Contract Co", "owner@contract.example.com")
    # access_token.used when a personal token is used at ticketing.
    made = flow.post("/api/registration/members/me/tokens", json={"name": "gates"}, headers=owner)
    script = {"Authorization": f"Bearer {made.json()['token']}"}
    assert flow.get("/api/ticketing/keys", headers=script).status_code == 200
    assert flow.post("/api/registration/sign-out", headers=owner).status_code == 204


def stored_events(system) -> dict[str, list[dict]]:
    """Every envelope in every service's outbox, by service."""
    stored = {}
    for name, runtime in system.runtimes.items():
        outbox = runtime.tables.outbox
        with runtime.session_factory() as session:
            rows = session.execute(
                select(outbox.c.event_type, outbox.c.envelope).order_by(outbox.c.created_at)
            ).all()
        for row in rows:
            assert row.event_type == row.envelope["type"], row
        stored[name] = [row.envelope for row in rows]
    return stored


def processed_ids(system) -> dict[str, set[str]]:
    """The ids of the events each service's inbox records as processed."""
    processed = {}
    for name, runtime in system.runtimes.items():
        inbox = runtime.tables.inbox
        with runtime.session_factory() as session:
            processed[name] = set(session.scalars(select(inbox.c.event_id)))
    return processed


def unprocessed(stored: dict[str, list[dict]], processed: dict[str, set[str]]) -> list[str]:
    """`type id -> service` for each stored event a consumer has not processed yet."""
    consumers = consumed_types()
    missing = []
    for envelopes in stored.values():
        for envelope in envelopes:
            for service in consumers.get(envelope["type"], ()):
                if envelope["id"] not in processed[service]:
                    missing.append(f"{envelope['type']} {envelope['id']} -> {service}")
    return missing


def settled_events(system, timeout: float = 20) -> dict[str, list[dict]]:
    """The outboxes once every consumer has processed every event it subscribes to.

    A handler writes its own events in the transaction that records the event in its inbox,
    so when the outboxes read the same before and after the inboxes, and the inboxes hold
    every subscribed event, nothing is in flight any more.
    """
    deadline = time.monotonic() + timeout
    while True:
        before = stored_events(system)
        processed = processed_ids(system)
        after = stored_events(system)
        missing = unprocessed(after, processed)
        if before == after and not missing:
            return after
        if time.monotonic() > deadline:
            raise AssertionError(f"events not processed after {timeout}s: {missing}")
        time.sleep(0.05)


def dead_lettered(system) -> dict[str, int]:
    counts = {}
    with broker_connection(system.settings.broker_url) as connection:
        channel = connection.default_channel
        for service, event_types in subscriptions().items():
            if event_types:
                queue = dead_letter_queue(service)(channel)
                counts[service] = queue.queue_declare(passive=True).message_count
    return counts


def test_producers_and_consumers_agree_in_the_running_system(embedded):
    """Held together: what each service stores in its outbox during the core flow passes the
    consumer's edge, every consumed type is really produced, and every consumer processed
    every event it subscribes to (its handler ran and committed with the real data) with
    nothing dead-lettered."""
    walk_the_core_flow(embedded)
    stored = settled_events(embedded.system)

    produced: set[str] = set()
    for service, envelopes in stored.items():
        for envelope in envelopes:
            checked, _ = read_envelope(json.loads(json.dumps(envelope)))
            assert checked["source"] == service
            assert service in producers_of(checked["type"]), checked["type"]
            produced.add(checked["type"])

    consumed = set(consumed_types())
    assert consumed - produced == set(NOT_PRODUCED_YET), (
        "a consumed event type is never produced in the core flow; produce it, or list it "
        "in NOT_PRODUCED_YET with the reason"
    )
    assert not set(NOT_PRODUCED_YET) & produced, "NOT_PRODUCED_YET lists a produced type"
    assert produced == DESIGNED_EVENT_TYPES
    dead = dead_lettered(embedded.system)
    assert not any(dead.values()), f"dead-lettered messages per service: {dead}"


def test_a_consumer_has_no_handler_for_a_type_nobody_produces():
    for service in SERVICES:
        handlers = importlib.import_module(f"services.{service}.handlers").HANDLERS
        for event_type in handlers:
            assert event_type in PRODUCERS or event_type in NOT_PRODUCED_YET, (
                f"{service} handles {event_type}, which no service produces"
            )
            assert service not in producers_of(event_type), (
                f"{service} consumes its own {event_type}"
            )


def test_stored_events_carry_unique_ids_and_the_cause_of_follow_up_events(embedded):
    walk_the_core_flow(embedded)
    stored = settled_events(embedded.system)
    envelopes = [envelope for envelopes in stored.values() for envelope in envelopes]

    assert len({envelope["id"] for envelope in envelopes}) == len(envelopes)
    # Events a consumer writes while handling an event name that event's correlation
    # (or the event itself when it had none).
    causes = {envelope["correlation_id"] or envelope["id"] for envelope in envelopes}
    for envelope in stored["ticketing"]:
        assert envelope["correlation_id"] in causes, envelope
