"""A retried or parallel consumer can see two events of one registration out of order; the
outcome must be the same as in order."""

from sqlalchemy import func, select

from services.ticketing.models import Ticket

pytest_plugins = ["tests.unit.domain_fixtures", "tests.unit.ticketing_fixtures"]


def test_a_confirmation_arriving_after_its_cancellation_issues_no_ticket(box_office):
    show = box_office.show()
    confirmation = box_office.confirmation(show)

    box_office.cancel(confirmation)
    box_office.deliver(confirmation)

    with box_office.runtime.session_factory() as session:
        tickets = session.scalar(
            select(func.count())
            .select_from(Ticket)
            .where(Ticket.registration_id == str(confirmation.registration_id))
        )
    assert tickets == 0


def test_a_ticket_revoked_before_the_door_received_it_joins_the_roster_revoked(door):
    event = door.event()
    ticket = door.signed_ticket(event)

    door.revoke(ticket)
    door.issue(event, ticket=ticket)

    assert door.scan(ticket.payload)["verdict"] == "revoked"
