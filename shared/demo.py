"""The demo showcase `make run` seeds, so a new user has something to register for."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from shared.auth import DEFAULT_ORGANISATION, ORGANISER, Principal

DEMO_TITLE = "Harbour Lights Innovation Showcase 港深創科展"


def seed_demo_showcase(system, organiser_token: str) -> str:
    """Create and publish the demo showcase once; return its id."""
    from services.registration import service
    from services.registration.models import Event

    runtime = system.runtimes["registration"]
    with runtime.session_factory() as session:
        existing = session.scalar(select(Event.id).where(Event.title == DEMO_TITLE))
    if existing:
        return existing
    organiser = Principal(ORGANISER, DEFAULT_ORGANISATION)
    hong_kong = ZoneInfo("Asia/Hong_Kong")
    today = datetime.now(hong_kong).replace(hour=0, minute=0, second=0, microsecond=0)
    event = service.create_event(
        runtime.unit_of_work(),
        organiser,
        {
            "title": DEMO_TITLE,
            "description": "Exhibitions, demo days, performances and talks.",
            "venue": "Lok Ma Chau Loop, Hall A",
            "timezone": "Asia/Hong_Kong",
            "starts_at": today.astimezone(UTC),
            "ends_at": (today + timedelta(days=14, hours=22)).astimezone(UTC),
        },
    )
    service.add_ticket_type(
        runtime.unit_of_work(), organiser, event.id, {"name": "General admission", "quota": 500}
    )
    service.publish_event(runtime.unit_of_work(), organiser, event.id)
    return event.id
