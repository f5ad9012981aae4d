"""Registration rules beyond the core flow: event life cycle, sales windows, per-order limits,
approval, sessions with their own capacity, custom questions and consent, waitlist offers with
a claim deadline, and personal data erasure.

Runs the registration service's domain functions against a real migrated SQLite database;
what the service published is read back from its outbox.
"""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from services.registration import service
from services.registration.models import ConsentRecord, Registration, Seat
from shared.errors import Conflict, InvalidRequest, NotFound
from tests.unit.domain_fixtures import NORTHWIND, SOUTHWIND

pytest_plugins = ["tests.unit.domain_fixtures"]


def statuses(desk, registrations) -> list[str]:
    return [desk.current(registration).status for registration in registrations]


def register(desk, event, ticket_type, name="Ada Lovelace", now=None, **choices):
    """A registration with sessions, answers or a language (service.Choices)."""
    attendee = {"name": name, "email": f"{name.split()[0].lower()}@example.com"}
    return service.register(
        desk.uow(), event.id, ticket_type.id, attendee, service.Choices(**choices), now=now
    ).registration


def seats(desk, registration) -> dict[str, str]:
    with desk.runtime.session_factory() as session:
        return {
            place.session_id: place.status
            for place in session.scalars(
                select(Seat).where(Seat.registration_id == registration.id)
            )
        }


def change_ticket_type(desk, ticket_type, **fields):
    return service.update_ticket_type(desk.uow(), NORTHWIND, ticket_type.id, fields)


def add_time_slot(desk, event, capacity: int, title="Soldering workshop"):
    return service.add_time_slot(
        desk.uow(),
        NORTHWIND,
        event.id,
        {
            "title": title,
            "starts_at": event.starts_at,
            "ends_at": event.starts_at + timedelta(hours=1),
            "capacity": capacity,
        },
    )


def add_question(desk, event, kind, label="Question?", **fields):
    return service.add_question(
        desk.uow(), NORTHWIND, event.id, {"kind": kind, "label": label, **fields}
    )


# --- the event's life cycle ------------------------------------------------------------------


def test_editing_a_published_event_announces_the_change(desk):
    event, _ = desk.published_event()

    edited = service.update_event(
        desk.uow(),
        NORTHWIND,
        event.id,
        {
            "title": "Demo Night 2",
            "venue": "Hall B",
            "categories": ["talk", "demo_day"],
            "translations": {"zh_Hant_HK": {"title": "示範之夜"}},
        },
    )

    assert (edited.title, edited.venue, edited.categories) == (
        "Demo Night 2",
        "Hall B",
        ["talk", "demo_day"],
    )
    [updated] = desk.published("event.updated")
    assert updated["data"]["title"] == "Demo Night 2"
    assert updated["data"]["venue"] == "Hall B"
    assert updated["data"]["status"] == "published"


def test_editing_a_draft_announces_nothing_and_times_stay_in_order(desk):
    event = desk.draft_event()

    with pytest.raises(InvalidRequest):
        service.update_event(
            desk.uow(), NORTHWIND, event.id, {"ends_at": event.starts_at - timedelta(hours=1)}
        )
    service.update_event(desk.uow(), NORTHWIND, event.id, {"venue": "Pier 4"})

    assert desk.published() == []


def test_another_organisation_cannot_edit_unpublish_or_cancel(desk):
    event, _ = desk.published_event()

    for change in (
        lambda: service.update_event(desk.uow(), SOUTHWIND, event.id, {"title": "Mine"}),
        lambda: service.unpublish_event(desk.uow(), SOUTHWIND, event.id),
        lambda: service.cancel_event(desk.uow(), SOUTHWIND, event.id),
    ):
        with pytest.raises(NotFound):
            change()

    assert desk.published_types() == ["event.published"]


def test_an_unpublished_event_takes_no_registration_and_can_come_back(desk):
    event, ticket_type = desk.published_event()
    ada = desk.registered(event, ticket_type)

    service.unpublish_event(desk.uow(), NORTHWIND, event.id)
    with pytest.raises(NotFound):
        desk.register(event, ticket_type, name="Grace Hopper")
    assert desk.published("event.updated")[0]["data"]["status"] == "unpublished"
    assert desk.current(ada).status == "confirmed"

    desk.publish(event)
    assert desk.registered(event, ticket_type, name="Grace Hopper").status == "confirmed"


def test_cancelling_an_event_cancels_its_registrations_and_promotes_nobody(desk):
    event, ticket_type = desk.published_event(quota=1)
    ada = desk.registered(event, ticket_type, name="Ada Lovelace")
    grace = desk.registered(event, ticket_type, name="Grace Hopper")
    before = len(desk.published())

    service.cancel_event(desk.uow(), NORTHWIND, event.id)

    assert statuses(desk, [ada, grace]) == ["cancelled", "cancelled"]
    after = desk.published()[before:]
    assert [e["type"] for e in after] == [
        "registration.cancelled",
        "registration.cancelled",
        "event.updated",
    ]
    assert {e["data"]["reason"] for e in after[:2]} == {"event_cancelled"}
    assert after[2]["data"]["status"] == "cancelled"
    with pytest.raises(Conflict):
        service.update_event(desk.uow(), NORTHWIND, event.id, {"title": "Back on"})
    with pytest.raises(Conflict):
        desk.publish(event)


# --- ticket types: sales windows, per-order limits, approval ---------------------------------


def test_a_ticket_type_sells_only_inside_its_sales_window(desk):
    event, ticket_type = desk.published_event()
    opens = datetime.now(UTC) + timedelta(days=1)
    change_ticket_type(
        desk, ticket_type, sales_opens_at=opens, sales_closes_at=opens + timedelta(1)
    )

    with pytest.raises(Conflict):
        desk.register(event, ticket_type, now=opens - timedelta(seconds=1))
    assert desk.registered(event, ticket_type, now=opens).status == "confirmed"
    with pytest.raises(Conflict):
        desk.register(event, ticket_type, now=opens + timedelta(days=1))


def test_sales_never_run_past_the_end_of_the_event(desk):
    event, ticket_type = desk.published_event()
    change_ticket_type(desk, ticket_type, sales_closes_at=event.ends_at + timedelta(days=5))

    with pytest.raises(Conflict):
        desk.register(event, ticket_type, now=event.ends_at)


def test_a_sales_window_must_close_after_it_opens(desk):
    event, ticket_type = desk.published_event()
    opens = datetime.now(UTC)

    with pytest.raises(InvalidRequest):
        change_ticket_type(desk, ticket_type, sales_opens_at=opens, sales_closes_at=opens)


def test_the_per_order_limit_caps_live_registrations_per_email_address(desk):
    event, ticket_type = desk.published_event(quota=10)
    change_ticket_type(desk, ticket_type, per_order_limit=2)
    first = desk.registered(event, ticket_type, email="ada@example.com")
    desk.registered(event, ticket_type, email="ada@example.com")

    with pytest.raises(Conflict) as refused:
        desk.register(event, ticket_type, email="ADA@example.com")
    assert refused.value.extra["errors"] == {
        "json": {"attendee": {"email": [refused.value.detail]}}
    }

    desk.cancel(first)
    assert desk.registered(event, ticket_type, email="ada@example.com").status == "confirmed"
    assert desk.registered(event, ticket_type, email="grace@example.com").status == "confirmed"


def test_a_ticket_type_that_needs_approval_waits_for_the_organiser(desk):
    event, ticket_type = desk.published_event(quota=1)
    change_ticket_type(desk, ticket_type, requires_approval=True)

    press = [desk.registered(event, ticket_type, name=n) for n in ("Ada Lovelace", "Grace Hopper")]
    assert statuses(desk, press) == ["pending_approval", "pending_approval"]
    assert desk.published("registration.confirmed") == []

    assert service.approve(desk.uow(), NORTHWIND, press[0].id).status == "confirmed"
    assert service.approve(desk.uow(), NORTHWIND, press[1].id).status == "waitlisted"
    assert [e["data"]["registration_id"] for e in desk.published("registration.confirmed")] == [
        press[0].id
    ]
    assert [e["data"]["registration_id"] for e in desk.published("registration.waitlisted")] == [
        press[1].id
    ]


def test_a_rejected_applicant_is_told_and_holds_nothing(desk):
    event, ticket_type = desk.published_event(quota=1)
    change_ticket_type(desk, ticket_type, requires_approval=True)
    applicant = desk.registered(event, ticket_type)

    rejected = service.reject(desk.uow(), NORTHWIND, applicant.id)

    assert rejected.status == "rejected"
    [cancelled] = desk.published("registration.cancelled")
    assert cancelled["data"]["previous_status"] == "pending_approval"
    assert cancelled["data"]["reason"] == "rejected"
    with pytest.raises(Conflict):
        service.approve(desk.uow(), NORTHWIND, applicant.id)


def test_only_the_events_organisation_decides_on_applicants(desk):
    event, ticket_type = desk.published_event(quota=1)
    change_ticket_type(desk, ticket_type, requires_approval=True)
    applicant = desk.registered(event, ticket_type)

    with pytest.raises(NotFound):
        service.approve(desk.uow(), SOUTHWIND, applicant.id)
    with pytest.raises(NotFound):
        service.reject(desk.uow(), SOUTHWIND, applicant.id)
    assert desk.current(applicant).status == "pending_approval"


def test_a_larger_quota_goes_to_the_waitlist_first(desk):
    event, ticket_type = desk.published_event(quota=1)
    people = [desk.registered(event, ticket_type, name=f"Person {n}") for n in range(4)]

    change_ticket_type(desk, ticket_type, quota=3)

    assert statuses(desk, people) == ["confirmed", "confirmed", "confirmed", "waitlisted"]
    assert len(desk.published("registration.promoted")) == 2


# --- sessions ------------------------------------------------------------------------------


def test_a_session_has_its_own_capacity_and_waitlist(desk):
    event, ticket_type = desk.published_event(quota=10)
    workshop = add_time_slot(desk, event, capacity=1)
    talk = add_time_slot(desk, event, capacity=5, title="Keynote")

    ada = register(desk, event, ticket_type, "Ada Lovelace", session_ids=(workshop.id, talk.id))
    grace = register(desk, event, ticket_type, "Grace Hopper", session_ids=(workshop.id,))

    assert ada.status == grace.status == "confirmed"
    assert seats(desk, ada) == {workshop.id: "confirmed", talk.id: "confirmed"}
    assert seats(desk, grace) == {workshop.id: "waitlisted"}

    desk.cancel(ada)

    assert seats(desk, ada) == {workshop.id: "cancelled", talk.id: "cancelled"}
    assert seats(desk, grace) == {workshop.id: "confirmed"}


def test_a_waitlisted_registration_takes_no_session_seat_until_it_gets_a_place(desk):
    event, ticket_type = desk.published_event(quota=1)
    workshop = add_time_slot(desk, event, capacity=5)
    ada = register(desk, event, ticket_type, "Ada Lovelace")
    grace = register(desk, event, ticket_type, "Grace Hopper", session_ids=(workshop.id,))

    assert seats(desk, grace) == {workshop.id: "requested"}

    desk.cancel(ada)

    assert desk.current(grace).status == "confirmed"
    assert seats(desk, grace) == {workshop.id: "confirmed"}


def test_a_larger_session_capacity_seats_its_waitlist(desk):
    event, ticket_type = desk.published_event(quota=10)
    workshop = add_time_slot(desk, event, capacity=0)
    ada = register(desk, event, ticket_type, "Ada Lovelace", session_ids=(workshop.id,))

    service.update_time_slot(desk.uow(), NORTHWIND, workshop.id, {"capacity": 1})

    assert seats(desk, ada) == {workshop.id: "confirmed"}


def test_a_session_of_another_event_is_refused(desk):
    event, ticket_type = desk.published_event()
    other, _ = desk.published_event()
    elsewhere = add_time_slot(desk, other, capacity=5)

    with pytest.raises(InvalidRequest) as refused:
        register(desk, event, ticket_type, session_ids=(elsewhere.id,))

    assert "session_ids" in refused.value.extra["errors"]["json"]
    assert desk.registrations_of(event) == []


def test_a_session_takes_place_within_its_event(desk):
    event = desk.draft_event()
    with pytest.raises(InvalidRequest):
        service.add_time_slot(
            desk.uow(),
            NORTHWIND,
            event.id,
            {
                "title": "Too late",
                "starts_at": event.ends_at,
                "ends_at": event.ends_at + timedelta(hours=1),
                "capacity": 5,
            },
        )


# --- questions and consent -------------------------------------------------------------------


def test_answers_are_checked_against_the_questions_with_an_error_per_question(desk):
    event, ticket_type = desk.published_event()
    company = add_question(desk, event, "text", "Company", required=True)
    track = add_question(desk, event, "choice", "Track", options=["AI", "Art"], required=True)
    topics = add_question(desk, event, "multiple_choice", "Topics", options=["VR", "Music"])
    diet = add_question(desk, event, "yes_no", "Vegetarian?")

    with pytest.raises(InvalidRequest) as refused:
        register(
            desk,
            event,
            ticket_type,
            answers={track.id: "Sport", topics.id: ["VR", "Dance"], diet.id: "yes", "x": "?"},
        )

    errors = refused.value.extra["errors"]["json"]["answers"]
    assert set(errors) == {company.id, track.id, topics.id, diet.id, "x"}
    assert desk.registrations_of(event) == []

    ada = register(
        desk,
        event,
        ticket_type,
        answers={company.id: "Loop Labs", track.id: "Art", topics.id: ["VR"], diet.id: False},
    )
    assert ada.answers == {
        company.id: "Loop Labs",
        track.id: "Art",
        topics.id: ["VR"],
        diet.id: False,
    }


def test_a_required_consent_must_be_given_and_is_kept_with_the_wording_shown(desk):
    event, ticket_type = desk.published_event()
    consent = add_question(
        desk,
        event,
        "consent",
        "I agree that Northwind keeps my data.",
        required=True,
        translations={"zh_Hant_HK": {"label": "我同意 Northwind 保存我的資料。"}},
    )

    with pytest.raises(InvalidRequest):
        register(desk, event, ticket_type, answers={consent.id: False})
    ada = register(desk, event, ticket_type, answers={consent.id: True}, language="zh_Hant_HK")

    with desk.runtime.session_factory() as session:
        [record] = session.scalars(select(ConsentRecord)).all()
    assert (record.registration_id, record.given, record.language) == (ada.id, True, "zh_Hant_HK")
    assert record.wording == "我同意 Northwind 保存我的資料。"
    assert abs(record.recorded_at - datetime.now(UTC)) < timedelta(minutes=1)


def test_an_attendee_changes_answers_and_withdraws_an_optional_consent(desk):
    event, ticket_type = desk.published_event()
    company = add_question(desk, event, "text", "Company")
    news = add_question(desk, event, "consent", "Send me news.")
    ada = register(desk, event, ticket_type, answers={company.id: "Loop Labs", news.id: True})

    changed = service.change_answers(
        desk.uow(), ada.id, ada.manage_token, {company.id: "Harbour Lab", news.id: False}
    )

    assert changed.answers == {company.id: "Harbour Lab", news.id: False}
    with desk.runtime.session_factory() as session:
        records = session.scalars(select(ConsentRecord).order_by(ConsentRecord.recorded_at))
        assert [record.given for record in records] == [True, False]
    with pytest.raises(NotFound):
        service.change_answers(desk.uow(), ada.id, "wrong", {company.id: "Evil"})


def test_a_question_needs_options_exactly_when_it_is_a_choice(desk):
    event = desk.draft_event()
    with pytest.raises(InvalidRequest):
        add_question(desk, event, "choice", options=[])
    with pytest.raises(InvalidRequest):
        add_question(desk, event, "text", options=["a"])
    with pytest.raises(InvalidRequest):
        add_question(
            desk,
            event,
            "choice",
            options=["a", "b"],
            translations={"zh_Hans_CN": {"options": ["甲"]}},
        )


def test_a_removed_question_is_no_longer_asked(desk):
    event, ticket_type = desk.published_event()
    company = add_question(desk, event, "text", "Company", required=True)

    service.remove_question(desk.uow(), NORTHWIND, company.id)

    assert register(desk, event, ticket_type).status == "confirmed"


# --- waitlist offers with a claim deadline ---------------------------------------------------


def test_with_a_claim_deadline_a_freed_place_is_offered_and_confirmed_on_claim(desk):
    event, ticket_type = desk.published_event(quota=1, waitlist_claim_minutes=60)
    ada = desk.registered(event, ticket_type, name="Ada Lovelace")
    grace = desk.registered(event, ticket_type, name="Grace Hopper")
    alan = desk.registered(event, ticket_type, name="Alan Turing")
    before = len(desk.published())

    desk.cancel(ada)

    offered = desk.current(grace)
    assert offered.status == "offered"
    assert timedelta(minutes=59) < offered.offer_expires_at - datetime.now(UTC) <= timedelta(60)
    # The place is held for Grace: a newcomer waits.
    assert desk.registered(event, ticket_type, name="Joan Clarke").status == "waitlisted"

    claimed = service.claim(desk.uow(), grace.id, grace.manage_token)

    assert claimed.status == "confirmed"
    assert desk.current(alan).status == "waitlisted"
    types = [e["type"] for e in desk.published()[before:]]
    assert types == [
        "registration.cancelled",
        "registration.promoted",
        "registration.waitlisted",
        "registration.confirmed",
    ]


def test_an_offer_not_claimed_in_time_goes_to_the_next_on_the_waitlist(desk):
    event, ticket_type = desk.published_event(quota=1, waitlist_claim_minutes=30)
    ada = desk.registered(event, ticket_type, name="Ada Lovelace")
    grace = desk.registered(event, ticket_type, name="Grace Hopper")
    alan = desk.registered(event, ticket_type, name="Alan Turing")
    desk.cancel(ada)
    deadline = desk.current(grace).offer_expires_at

    assert service.lapse_waitlist_offers(desk.uow(), now=deadline - timedelta(seconds=1)) == 0
    with pytest.raises(Conflict):
        service.claim(desk.uow(), grace.id, grace.manage_token, now=deadline)
    assert service.lapse_waitlist_offers(desk.uow(), now=deadline) == 1

    assert statuses(desk, [grace, alan]) == ["offer_expired", "offered"]
    lapsed = [
        e
        for e in desk.published("registration.cancelled")
        if e["data"]["reason"] == "offer_expired"
    ]
    assert [e["data"]["registration_id"] for e in lapsed] == [grace.id]


def test_without_a_claim_deadline_promotion_is_automatic(desk):
    event, ticket_type = desk.published_event(quota=1)
    ada = desk.registered(event, ticket_type, name="Ada Lovelace")
    grace = desk.registered(event, ticket_type, name="Grace Hopper")

    desk.cancel(ada)

    assert desk.current(grace).status == "confirmed"
    with pytest.raises(Conflict):
        service.claim(desk.uow(), ada.id, ada.manage_token)


# --- personal data -------------------------------------------------------------------------


def test_erasing_an_attendee_removes_their_personal_data_and_keeps_the_counts(desk):
    event, ticket_type = desk.published_event(quota=5)
    company = add_question(desk, event, "text", "Company")
    ada = register(desk, event, ticket_type, "Ada Lovelace", answers={company.id: "Loop Labs"})
    grace = register(desk, event, ticket_type, "Grace Hopper")

    erased = service.erase_attendee(desk.uow(), NORTHWIND, ada.id)

    assert (erased.attendee_name, erased.attendee_email, erased.answers) == ("[erased]", "", {})
    assert erased.status == "confirmed" and erased.erased_at is not None
    assert desk.current(grace).attendee_name == "Grace Hopper"
    assert len(desk.registrations_of(event)) == 2
    with pytest.raises(NotFound):
        service.erase_attendee(desk.uow(), SOUTHWIND, grace.id)


def test_an_erasure_is_announced_once_so_ticketing_and_check_in_erase_their_copies(desk):
    event, ticket_type = desk.published_event(quota=5)
    ada = register(desk, event, ticket_type, "Ada Lovelace")

    service.erase_attendee(desk.uow(), NORTHWIND, ada.id)
    service.erase_attendee(desk.uow(), NORTHWIND, ada.id)  # a second click

    announced = [envelope["data"] for envelope in desk.published("registration.erased")]
    assert announced == [{"registration_id": ada.id, "event_id": event.id}]


def test_personal_data_is_erased_when_the_retention_period_has_run_out(desk):
    event, ticket_type = desk.published_event(quota=5, retention_days=30)
    kept_forever, other_type = desk.published_event(quota=5)
    ada = desk.registered(event, ticket_type, name="Ada Lovelace")
    grace = desk.registered(kept_forever, other_type, name="Grace Hopper")
    due = event.ends_at + timedelta(days=30)

    assert service.erase_after_retention(desk.uow(), now=due - timedelta(seconds=1)) == []
    assert service.erase_after_retention(desk.uow(), now=due) == [event.id]
    assert service.erase_after_retention(desk.uow(), now=due + timedelta(days=1)) == []

    assert desk.current(ada).attendee_name == "[erased]"
    assert desk.current(ada).status == "confirmed"
    assert desk.current(grace).attendee_name == "Grace Hopper"
    announced = [envelope["data"] for envelope in desk.published("registration.erased")]
    assert announced == [{"registration_id": ada.id, "event_id": event.id}]


def test_the_registration_list_filters_by_status_and_ticket_type_and_searches(desk):
    event, general = desk.published_event(quota=1)
    vip = desk.add_ticket_type(event, quota=5, name="VIP")
    desk.registered(event, general, name="Ada Lovelace", email="ada@loop.hk")
    desk.registered(event, general, name="Grace Hopper", email="grace@navy.mil")
    desk.registered(event, vip, name="Alan Turing", email="alan@bletchley.uk")

    def names(**where):
        with desk.runtime.session_factory() as session:
            report = service.registrations_report(
                session, NORTHWIND, event.id, service.RegistrationFilter(**where)
            )
            return [registration.attendee_name for registration in report.registrations]

    assert names(status="waitlisted") == ["Grace Hopper"]
    assert names(ticket_type_id=vip.id) == ["Alan Turing"]
    assert names(search="LOOP") == ["Ada Lovelace"]
    assert names(search="hopper") == ["Grace Hopper"]
    assert names(search="%") == []
    assert names(status="confirmed", ticket_type_id=general.id) == ["Ada Lovelace"]


def test_the_registrations_of_a_deleted_attendee_stay_in_order(desk):
    """Registrations list in the order they were made."""
    event, ticket_type = desk.published_event(quota=5)
    made = [desk.registered(event, ticket_type, name=f"Person {n}") for n in range(3)]
    assert [r.id for r in desk.registrations_of(event)] == [r.id for r in made]
    with desk.runtime.session_factory() as session:
        assert session.scalar(select(Registration.status).where(Registration.id == made[0].id))
