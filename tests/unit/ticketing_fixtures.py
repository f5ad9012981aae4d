"""Ticketing driven through its domain functions, as its consumers and routes drive it: a
migrated SQLite database per test, events fed in as the bus delivers them, no mocks.

Test modules load this file with `pytest_plugins = ["tests.unit.ticketing_fixtures"]`
(PYTEST_DONT_REWRITE: it holds no assertions).
"""

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from services.ticketing import handlers
from services.ticketing import service as ticketing
from services.ticketing.models import OutgoingMail, SigningKey, Ticket
from shared.auth import Principal
from shared.runtime import ServiceRuntime
from shared.tokens import load_public_key
from tests.unit.domain_fixtures import NORTHWIND, consume, published, service_runtime

SHOW_STARTS = datetime(2030, 6, 1, 10, 0, tzinfo=UTC)  # 18:00 in Hong Kong
SHOW_ENDS = datetime(2030, 6, 1, 14, 0, tzinfo=UTC)


@dataclass(frozen=True)
class ShowAtTheBoxOffice:
    id: uuid.UUID
    organisation_id: str
    title: str
    ticket_type_id: uuid.UUID


@dataclass(frozen=True)
class Confirmation:
    """A registration.confirmed as registration sends it, and the attendee's manage token."""

    registration_id: uuid.UUID
    manage_token: str
    data: dict


class BoxOffice:
    def __init__(self, runtime: ServiceRuntime):
        self.runtime = runtime

    def show(
        self,
        organisation_id: str = NORTHWIND.organisation_id,
        title: str = "Harbour Lights 港燈夜",
        venue: str = "Lok Ma Chau Loop, Hall A",
        timezone: str = "Asia/Hong_Kong",
        starts_at: datetime = SHOW_STARTS,
        ends_at: datetime = SHOW_ENDS,
    ) -> ShowAtTheBoxOffice:
        show = ShowAtTheBoxOffice(uuid.uuid4(), organisation_id, title, uuid.uuid4())
        consume(
            self.runtime,
            handlers.on_event_changed,
            "event.published",
            {
                "event_id": show.id,
                "organisation_id": organisation_id,
                "title": title,
                "starts_at": starts_at,
                "ends_at": ends_at,
                "timezone": timezone,
                "venue": venue,
                "early_entry_minutes": 60,
                "status": "published",
                "ticket_types": [{"id": show.ticket_type_id, "name": "General 普通"}],
            },
        )
        return show

    def confirmation(
        self, show: ShowAtTheBoxOffice, name: str = "陳大文", locale: str | None = None
    ) -> Confirmation:
        token = secrets.token_urlsafe(24)
        attendee = {"name": name, "email": f"{uuid.uuid4().hex[:8]}@example.com"}
        if locale is not None:
            attendee["locale"] = locale
        registration_id = uuid.uuid4()
        data = {
            "registration_id": registration_id,
            "event_id": show.id,
            "ticket_type_id": show.ticket_type_id,
            "attendee": attendee,
            "manage_token_sha256": hashlib.sha256(token.encode()).hexdigest(),
        }
        return Confirmation(registration_id, token, data)

    def deliver(self, confirmation: Confirmation) -> None:
        """registration.confirmed reaching ticketing's consumer (again, if called again)."""
        consume(
            self.runtime,
            handlers.on_registration_confirmed,
            "registration.confirmed",
            confirmation.data,
        )

    def confirm(self, show: ShowAtTheBoxOffice, **attendee) -> Confirmation:
        confirmation = self.confirmation(show, **attendee)
        self.deliver(confirmation)
        return confirmation

    def cancel(self, confirmation: Confirmation) -> None:
        data = confirmation.data
        consume(
            self.runtime,
            handlers.on_registration_cancelled,
            "registration.cancelled",
            {
                "registration_id": data["registration_id"],
                "event_id": data["event_id"],
                "ticket_type_id": data["ticket_type_id"],
                "previous_status": "confirmed",
            },
        )

    def erase(self, confirmation: Confirmation) -> None:
        """registration.erased: the attendee's personal data erased at registration."""
        consume(
            self.runtime,
            handlers.on_registration_erased,
            "registration.erased",
            {
                "registration_id": confirmation.data["registration_id"],
                "event_id": confirmation.data["event_id"],
            },
        )

    def ticket_of(self, confirmation: Confirmation) -> Ticket:
        """The registration's current ticket, as its attendee opens it."""
        with self.runtime.session_factory() as session:
            return ticketing.attendee_ticket(
                session, str(confirmation.registration_id), confirmation.manage_token
            )

    def tickets_of(self, confirmation: Confirmation) -> list[Ticket]:
        with self.runtime.session_factory() as session:
            return list(
                session.scalars(
                    select(Ticket)
                    .where(Ticket.registration_id == str(confirmation.registration_id))
                    .order_by(Ticket.issued_at)
                )
            )

    def reissue(self, ticket: Ticket, organiser: Principal = NORTHWIND) -> Ticket:
        return ticketing.reissue_ticket(self.runtime.unit_of_work(), organiser, ticket.id)

    def rotate(self, show: ShowAtTheBoxOffice, organiser: Principal = NORTHWIND) -> SigningKey:
        return ticketing.rotate_signing_key(self.runtime.unit_of_work(), organiser, str(show.id))

    def retire(
        self, show: ShowAtTheBoxOffice, key_id: str, organiser: Principal = NORTHWIND
    ) -> ticketing.RetiredKey:
        return ticketing.retire_signing_key(
            self.runtime.unit_of_work(), organiser, str(show.id), key_id
        )

    def public_keys(self) -> dict:
        """What door devices get from GET /api/ticketing/keys, ready for verify_ticket."""
        with self.runtime.session_factory() as session:
            return {
                key.key_id: load_public_key(key.public_key)
                for key in ticketing.organisation_signing_keys(session, NORTHWIND)
                if key.retired_at is None
            }

    def mail(self) -> list[OutgoingMail]:
        with self.runtime.session_factory() as session:
            return list(session.scalars(select(OutgoingMail).order_by(OutgoingMail.created_at)))

    def published(self, event_type: str | None = None) -> list[dict]:
        return published(self.runtime, event_type)


@pytest.fixture
def ticketing_runtime(tmp_path):
    runtime = service_runtime("ticketing", tmp_path)
    yield runtime
    runtime.dispose()


@pytest.fixture
def box_office(ticketing_runtime) -> BoxOffice:
    return BoxOffice(ticketing_runtime)
