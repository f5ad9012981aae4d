"""The demo showcase `make run` seeds, so a new user has something to register for: in three
languages, with a workshop of its own capacity, questions and a consent, and a ticket type
that needs the organiser's approval."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from services.registration import service
from services.registration.models import Event
from shared.auth import DEFAULT_ORGANISATION, ORGANISER, OWNER, Principal

DEMO_TITLE = "Harbour Lights Innovation Showcase 港深創科展"
DEMO_OWNER = "owner@harbour-lights.example"


def seed_demo_showcase(system, organiser_token: str) -> str:
    """Create and publish the demo showcase once (in the embedded system's registration);
    return its id."""
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
            "translations": {
                "zh_Hant_HK": {
                    "title": "港灣光影創科展",
                    "description": "展覽、成果展示日、表演及講座，科技與文化在河套相遇。",
                },
                "zh_Hans_CN": {
                    "title": "港湾光影创科展",
                    "description": "展览、项目路演、演出和讲座，科技与文化在河套相遇。",
                },
            },
            "categories": ["exhibition", "demo_day", "workshop"],
            "venue": "Lok Ma Chau Loop, Hall A",
            "timezone": "Asia/Hong_Kong",
            "starts_at": today.astimezone(UTC),
            "ends_at": (today + timedelta(days=14, hours=22)).astimezone(UTC),
            "retention_days": 90,
        },
    )
    uow = runtime.unit_of_work
    service.add_ticket_type(uow(), organiser, event.id, {"name": "General admission", "quota": 500})
    service.add_ticket_type(
        uow(),
        organiser,
        event.id,
        {"name": "Exhibitor / Press", "quota": 40, "requires_approval": True},
    )
    workshop_starts = today + timedelta(days=1, hours=14)
    service.add_time_slot(
        uow(),
        organiser,
        event.id,
        {
            "title": "Hands-on: paper circuits and lanterns",
            "translations": {
                "zh_Hant_HK": {"title": "動手做：紙電路與花燈"},
                "zh_Hans_CN": {"title": "动手做：纸电路与花灯"},
            },
            "starts_at": workshop_starts.astimezone(UTC),
            "ends_at": (workshop_starts + timedelta(hours=2)).astimezone(UTC),
            "capacity": 30,
        },
    )
    service.add_question(
        uow(),
        organiser,
        event.id,
        {
            "kind": "choice",
            "label": "What brings you here?",
            "options": ["Technology", "Art and culture", "Both"],
            "translations": {
                "zh_Hant_HK": {
                    "label": "您對哪方面最感興趣？",
                    "options": ["科技", "藝術文化", "兩者皆是"],
                },
                "zh_Hans_CN": {
                    "label": "您最感兴趣的是？",
                    "options": ["科技", "艺术文化", "两者都是"],
                },
            },
        },
    )
    service.add_question(
        uow(),
        organiser,
        event.id,
        {
            "kind": "consent",
            "label": "I agree that the organiser keeps my name and email for this event and "
            "erases them 90 days after it ends.",
            "required": True,
            "translations": {
                "zh_Hant_HK": {
                    "label": "我同意主辦機構為本活動保存我的姓名及電郵，並於活動結束 90 日後刪除。"
                },
                "zh_Hans_CN": {
                    "label": "我同意主办方为本活动保存我的姓名和邮箱，并在活动结束 90 天后删除。"
                },
            },
        },
    )
    service.publish_event(uow(), organiser, event.id)
    return event.id


def demo_owner_invitation(system) -> str | None:
    """The path of a fresh invitation for the demo showcase's owner, who then chooses a
    password; None once they have joined (they sign in at /organiser/login)."""
    runtime = system.runtimes["registration"]
    organiser = Principal(ORGANISER, DEFAULT_ORGANISATION)
    with runtime.session_factory() as session:
        if any(member.email == DEMO_OWNER for member in service.team(session, organiser)):
            return None
    invitation = service.invite_member(
        runtime.unit_of_work(), organiser, DEMO_OWNER, OWNER, None, "en"
    )
    return service.invitation_path(runtime.secret_box, invitation)
