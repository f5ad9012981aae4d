"""The registration decision alone (services/registration/admission.py): given the event, the
ticket type and the time, a new registration is confirmed, waitlisted or left for the
organiser's approval, or refused outside the sales window. No database."""

from datetime import UTC, datetime, timedelta

import pytest

from services.registration.admission import (
    EventTerms,
    NotOpenYet,
    SalesClosed,
    TicketTypeTerms,
    admit,
)

NOW = datetime(2027, 3, 1, 10, 0, tzinfo=UTC)
SHOW = EventTerms(ends_at=NOW + timedelta(days=7))


def ticket_type(quota=2, taken=0, opens=None, closes=None, requires_approval=False):
    return TicketTypeTerms(
        quota=quota,
        confirmed_count=taken,
        sales_opens_at=opens,
        sales_closes_at=closes,
        requires_approval=requires_approval,
    )


def test_a_registration_is_confirmed_while_places_are_left():
    assert admit(SHOW, ticket_type(quota=2, taken=1), NOW) == "confirmed"


def test_a_registration_is_waitlisted_once_every_place_is_taken():
    assert admit(SHOW, ticket_type(quota=2, taken=2), NOW) == "waitlisted"


def test_a_ticket_type_that_needs_approval_leaves_every_registration_to_the_organiser():
    assert admit(SHOW, ticket_type(requires_approval=True), NOW) == "pending_approval"
    assert admit(SHOW, ticket_type(taken=2, requires_approval=True), NOW) == "pending_approval"


def test_a_registration_before_the_sales_window_opens_is_refused_with_the_opening_time():
    opens = NOW + timedelta(hours=1)

    with pytest.raises(NotOpenYet) as refused:
        admit(SHOW, ticket_type(opens=opens), NOW)

    assert refused.value.status == 409
    assert refused.value.extra == {"opens_at": opens}


def test_a_registration_from_the_moment_the_window_opens_is_admitted():
    assert admit(SHOW, ticket_type(opens=NOW), NOW) == "confirmed"


def test_a_registration_once_the_sales_window_has_closed_is_refused():
    with pytest.raises(SalesClosed) as refused:
        admit(SHOW, ticket_type(closes=NOW), NOW)

    assert refused.value.status == 409


def test_without_a_window_registration_stays_open_until_the_very_end_of_the_event():
    assert admit(SHOW, ticket_type(), SHOW.ends_at - timedelta(seconds=1)) == "confirmed"
    with pytest.raises(SalesClosed):
        admit(SHOW, ticket_type(), SHOW.ends_at)


def test_a_window_closing_after_the_event_still_closes_when_the_event_ends():
    late = ticket_type(closes=SHOW.ends_at + timedelta(days=1))

    with pytest.raises(SalesClosed):
        admit(SHOW, late, SHOW.ends_at)


def test_a_refusal_outranks_approval_and_a_full_ticket_type():
    full_and_approved = ticket_type(taken=2, closes=NOW, requires_approval=True)

    with pytest.raises(SalesClosed):
        admit(SHOW, full_and_approved, NOW)
