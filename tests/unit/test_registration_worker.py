"""The registration worker runs the service's periodic tasks (shared/worker.py PeriodicTask):
lapsing waitlist offers not claimed in time, and erasing personal data after retention."""

from datetime import UTC, datetime, timedelta

from services.registration import service
from services.registration.models import Registration
from services.system import subscriptions
from shared.worker import ServiceWorker
from tests.support import wait_until
from tests.unit.domain_fixtures import NORTHWIND

pytest_plugins = ["tests.unit.domain_fixtures"]


def test_the_worker_lapses_overdue_offers_and_erases_data_past_retention(desk):
    event, ticket_type = desk.published_event(
        quota=1, waitlist_claim_minutes=10, retention_days=0, starts_in=-timedelta(hours=2)
    )
    ada = desk.registered(event, ticket_type, name="Ada Lovelace")
    grace = desk.registered(event, ticket_type, name="Grace Hopper")
    desk.cancel(ada)
    # The event has just ended, and its retention period is nought days.
    ended = datetime.now(UTC) - timedelta(minutes=1)
    service.update_event(desk.uow(), NORTHWIND, event.id, {"ends_at": ended})
    with desk.runtime.session_factory() as session:
        offered = session.get(Registration, grace.id)
        offered.offer_expires_at = datetime.now(UTC) - timedelta(seconds=1)
        session.commit()

    worker = ServiceWorker(desk.runtime, subscriptions())
    worker.start()
    try:
        wait_until(lambda: desk.current(grace).status == "offer_expired", 10, "the offer to lapse")
        wait_until(
            lambda: desk.current(grace).attendee_name == "[erased]", 10, "personal data erased"
        )
    finally:
        worker.stop()
