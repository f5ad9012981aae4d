"""Real services for domain tests: a migrated SQLite database per test, no mocks.

What a service published is read back from its outbox, in the order it was written, exactly
as the relay would send it. Test modules load this file with
`pytest_plugins = ["tests.unit.domain_fixtures"]` and import its helpers directly; it holds
no assertions, so pytest need not rewrite it (PYTEST_DONT_REWRITE) when it finds it already
imported.
"""

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, literal_column, select

from services.checkin import service as checkin
from services.checkin.models import CheckinList, Scan
from services.checkin.scan_records import ScanRequest
from services.registration import service as registration
from services.registration.idempotency import Idempotency
from services.registration.models import Registration
from services.system import definition
from shared.auth import ORGANISER, STAFF, Principal, token_digest
from shared.bus.events import make_envelope, read_envelope
from shared.runtime import ServiceRuntime
from shared.settings import Settings
from shared.tokens import TicketClaims, new_signing_key, public_key_text, sign_ticket

NORTHWIND = Principal(ORGANISER, "northwind")
SOUTHWIND = Principal(ORGANISER, "southwind")


def staff_of(event_id, organisation_id: str = NORTHWIND.organisation_id) -> Principal:
    """A door device paired to one event."""
    return Principal(STAFF, organisation_id, str(event_id))


# --- services and what they published ---------------------------------------------------


def service_runtime(name: str, tmp_path) -> ServiceRuntime:
    settings = Settings.from_env({"LOOPGATE_DATA_DIR": str(tmp_path)})
    runtime = ServiceRuntime(definition(name), settings)
    runtime.prepare()
    return runtime


def published(runtime: ServiceRuntime, event_type: str | None = None) -> list[dict]:
    """The envelopes a service wrote to its outbox, oldest first (the relay's order)."""
    outbox = runtime.tables.outbox
    query = select(outbox.c.envelope).order_by(outbox.c.created_at, literal_column("rowid"))
    if event_type is not None:
        query = query.where(outbox.c.event_type == event_type)
    with runtime.session_factory() as session:
        return list(session.scalars(query))


def published_types(runtime: ServiceRuntime) -> list[str]:
    return [envelope["type"] for envelope in published(runtime)]


def as_consumed(event_type: str, data: dict) -> dict:
    """`data` as a consumer receives it: through the producer's check, JSON and the schema."""
    envelope = make_envelope(event_type, data, "tests", None)
    _, loaded = read_envelope(json.loads(json.dumps(envelope)))
    return loaded


def consume(runtime: ServiceRuntime, handler: Callable, event_type: str, data: dict) -> None:
    """Run a consumer-side service function in one transaction, as the service's worker does:
    the function gets the open Transaction, and the unit of work commits after it."""
    uow = runtime.unit_of_work()
    with uow:
        handler(uow.transaction, as_consumed(event_type, data))
        uow.commit()


# --- registration -----------------------------------------------------------------------


class RegistrationDesk:
    """The registration service driven through its domain functions."""

    def __init__(self, runtime: ServiceRuntime):
        self.runtime = runtime

    def uow(self):
        return self.runtime.unit_of_work()

    def draft_event(
        self,
        organiser: Principal = NORTHWIND,
        starts_in: timedelta = timedelta(days=7),
        lasts: timedelta = timedelta(hours=8),
        **fields,
    ):
        starts_at = datetime.now(UTC).replace(microsecond=0) + starts_in
        return registration.create_event(
            self.uow(),
            organiser,
            {"title": "Demo Night", "starts_at": starts_at, "ends_at": starts_at + lasts, **fields},
        )

    def add_ticket_type(self, event, quota: int = 10, name: str = "General", organiser=NORTHWIND):
        return registration.add_ticket_type(
            self.uow(), organiser, event.id, {"name": name, "quota": quota}
        )

    def publish(self, event, organiser: Principal = NORTHWIND):
        return registration.publish_event(self.uow(), organiser, event.id)

    def published_event(self, quota: int = 10, **event_fields):
        """A published event with one ticket type; returns (event, ticket_type)."""
        event = self.draft_event(**event_fields)
        ticket_type = self.add_ticket_type(event, quota)
        self.publish(event)
        return event, ticket_type

    def register(
        self,
        event,
        ticket_type,
        name: str = "Ada Lovelace",
        email: str | None = None,
        idempotency_key: str | None = None,
        now: datetime | None = None,
    ) -> registration.NewRegistration:
        attendee = {"name": name, "email": email or f"{name.split()[0].lower()}@example.com"}
        return registration.register(
            self.uow(),
            event.id,
            ticket_type.id,
            attendee,
            idempotency=Idempotency(idempotency_key, "127.0.0.1", self.runtime.secret_box)
            if idempotency_key
            else None,
            now=now,
        )

    def registered(self, event, ticket_type, **kwargs) -> Registration:
        return self.register(event, ticket_type, **kwargs).registration

    def cancel(self, a_registration: Registration, manage_token: str | None = None):
        token = a_registration.manage_token if manage_token is None else manage_token
        return registration.cancel(self.uow(), a_registration.id, token)

    def current(self, a_registration: Registration) -> Registration:
        with self.runtime.session_factory() as session:
            return session.get(Registration, a_registration.id)

    def registrations_of(self, event) -> list[Registration]:
        with self.runtime.session_factory() as session:
            return registration.registrations_report(session, NORTHWIND, event.id).registrations

    def published(self, event_type: str | None = None) -> list[dict]:
        return published(self.runtime, event_type)

    def published_types(self) -> list[str]:
        return published_types(self.runtime)


@pytest.fixture
def registration_runtime(tmp_path):
    runtime = service_runtime("registration", tmp_path)
    yield runtime
    runtime.dispose()


@pytest.fixture
def desk(registration_runtime) -> RegistrationDesk:
    return RegistrationDesk(registration_runtime)


# --- check-in ---------------------------------------------------------------------------

# One showcase evening, in whole seconds (ticket tokens carry whole seconds).
DOORS_OPEN_MARGIN = timedelta(minutes=120)
SHOW_STARTS = datetime(2030, 6, 1, 18, 0, tzinfo=UTC)
SHOW_ENDS = datetime(2030, 6, 1, 22, 0, tzinfo=UTC)
DURING_THE_SHOW = datetime(2030, 6, 1, 19, 0, tzinfo=UTC)


@dataclass
class EventAtTheDoor:
    """An event as ticketing announced it, with the key ticketing signs its tickets with."""

    id: uuid.UUID
    organisation_id: str
    starts_at: datetime
    ends_at: datetime
    early_entry_minutes: int
    ticket_types: dict[str, uuid.UUID]
    key_id: str
    signing_key: Ed25519PrivateKey

    def ticket_type(self, name: str = "General") -> uuid.UUID:
        return self.ticket_types[name]


@dataclass(frozen=True)
class IssuedTicket:
    id: uuid.UUID
    registration_id: uuid.UUID
    event_id: uuid.UUID
    ticket_type_id: uuid.UUID
    attendee_name: str
    payload: str


class Door:
    """The check-in service: a roster fed by the events it consumes, and scans."""

    def __init__(self, runtime: ServiceRuntime):
        self.runtime = runtime

    def event(
        self,
        organisation_id: str = NORTHWIND.organisation_id,
        starts_at: datetime = SHOW_STARTS,
        ends_at: datetime = SHOW_ENDS,
        early_entry: timedelta = DOORS_OPEN_MARGIN,
        ticket_types: tuple[str, ...] = ("General", "Backstage"),
    ) -> EventAtTheDoor:
        key_id, signing_key = new_signing_key()
        event = EventAtTheDoor(
            id=uuid.uuid4(),
            organisation_id=organisation_id,
            starts_at=starts_at,
            ends_at=ends_at,
            early_entry_minutes=int(early_entry.total_seconds() // 60),
            ticket_types={name: uuid.uuid4() for name in ticket_types},
            key_id=key_id,
            signing_key=signing_key,
        )
        consume(
            self.runtime,
            checkin.record_event,
            "event.published",
            {
                "event_id": event.id,
                "organisation_id": organisation_id,
                "title": "Demo Night",
                "starts_at": starts_at,
                "ends_at": ends_at,
                "timezone": "Asia/Hong_Kong",
                "venue": "The Loop, Hall 2",
                "early_entry_minutes": event.early_entry_minutes,
                "status": "published",
                "ticket_types": [
                    {"id": type_id, "name": name} for name, type_id in event.ticket_types.items()
                ],
            },
        )
        return event

    def signed_ticket(
        self,
        event: EventAtTheDoor,
        ticket_type: str = "General",
        attendee_name: str = "Grace Hopper",
        key: tuple[str, Ed25519PrivateKey] | None = None,
    ) -> IssuedTicket:
        """A ticket signed as ticketing signs it, not (yet) sent to the door."""
        key_id, signing_key = key or (event.key_id, event.signing_key)
        claims = TicketClaims(
            key_id=key_id,
            event_id=event.id,
            ticket_id=uuid.uuid4(),
            ticket_type_id=event.ticket_type(ticket_type),
            valid_from=event.starts_at - timedelta(minutes=event.early_entry_minutes),
            valid_until=event.ends_at,
        )
        return IssuedTicket(
            id=claims.ticket_id,
            registration_id=uuid.uuid4(),
            event_id=event.id,
            ticket_type_id=claims.ticket_type_id,
            attendee_name=attendee_name,
            payload=sign_ticket(claims, signing_key),
        )

    def issue(
        self,
        event: EventAtTheDoor,
        attendee_email: str | None = None,
        ticket: IssuedTicket | None = None,
        with_token_digest: bool = True,
        **kwargs,
    ) -> IssuedTicket:
        """A ticket (signed now, unless given) delivered to the door's roster by ticket.issued
        (with the attendee's email only when given, and without the token's digest when
        asked, as producers that predate them send it)."""
        ticket = ticket or self.signed_ticket(event, **kwargs)
        data = {
            "ticket_id": ticket.id,
            "registration_id": ticket.registration_id,
            "event_id": event.id,
            "ticket_type_id": ticket.ticket_type_id,
            "attendee_name": ticket.attendee_name,
            "valid_from": event.starts_at - timedelta(minutes=event.early_entry_minutes),
            "valid_until": event.ends_at,
            "signing_key": {
                "key_id": event.key_id,
                "public_key": public_key_text(event.signing_key.public_key()),
            },
        }
        if attendee_email is not None:
            data["attendee_email"] = attendee_email
        if with_token_digest:
            data["token_sha256"] = token_digest(ticket.payload)
        consume(self.runtime, checkin.add_to_roster, "ticket.issued", data)
        return ticket

    def revoke(self, ticket: IssuedTicket) -> None:
        consume(
            self.runtime,
            checkin.revoke,
            "ticket.revoked",
            {
                "ticket_id": ticket.id,
                "registration_id": ticket.registration_id,
                "event_id": ticket.event_id,
                "reason": "registration cancelled",
            },
        )

    def retire_key(self, event: EventAtTheDoor, key_id: str | None = None) -> None:
        """signing_key.retired for one of the event's keys (its own, unless named)."""
        consume(
            self.runtime,
            checkin.retire_key,
            "signing_key.retired",
            {
                "key_id": key_id or event.key_id,
                "event_id": event.id,
                "retired_at": DURING_THE_SHOW,
            },
        )

    def erase(self, ticket: IssuedTicket) -> None:
        """registration.erased for the ticket's registration reaching the door."""
        consume(
            self.runtime,
            checkin.erase_attendee,
            "registration.erased",
            {"registration_id": ticket.registration_id, "event_id": ticket.event_id},
        )

    def add_list(
        self,
        event: EventAtTheDoor,
        name: str,
        ticket_types: tuple[str, ...] | None = None,
        **rules,
    ) -> str:
        """A gate or area, made as an organiser makes it; `ticket_types` None admits every
        type of the event; `rules`: reentry, opens_at, closes_at, session_id."""
        fields = {"name": name, **rules}
        if ticket_types is not None:
            fields["ticket_type_ids"] = [event.ticket_type(type_name) for type_name in ticket_types]
        organiser = Principal(ORGANISER, event.organisation_id)
        created = checkin.create_list(self.runtime.unit_of_work(), organiser, str(event.id), fields)
        return created.id

    def default_list(self, event: EventAtTheDoor) -> str:
        with self.runtime.session_factory() as session:
            return session.scalars(
                select(CheckinList.id).where(
                    CheckinList.event_id == str(event.id), CheckinList.is_default
                )
            ).one()

    def scan(
        self,
        payload: str,
        at: datetime = DURING_THE_SHOW,
        by: Principal = NORTHWIND,
        list_id: str | None = None,
        scan_id: str | None = None,
        scanned_at: datetime | None = None,
        direction: str = "in",
    ) -> dict:
        """An online scan at `at` (or an offline one made at `scanned_at`)."""
        request = ScanRequest(
            scan_id=scan_id or uuid.uuid4().hex,
            payload=payload,
            list_id=list_id,
            scanned_at=scanned_at,
            direction=direction,
        )
        return checkin.scan(self.runtime.unit_of_work(), by, request, now=at)

    def scan_out(self, payload: str, **kwargs) -> dict:
        return self.scan(payload, direction="out", **kwargs)

    def upload(
        self, scans: list[ScanRequest], by: Principal = NORTHWIND, at: datetime = SHOW_ENDS
    ) -> list[dict]:
        """An offline batch uploaded at `at` (after the doors were offline)."""
        return checkin.scan_batch(self.runtime.unit_of_work(), by, scans, now=at)

    def scans_recorded(self, scan_id: str | None = None) -> int:
        query = select(func.count()).select_from(Scan)
        if scan_id is not None:
            query = query.where(Scan.scan_id == scan_id)
        with self.runtime.session_factory() as session:
            return session.scalar(query)

    def published(self, event_type: str | None = None) -> list[dict]:
        return published(self.runtime, event_type)


@pytest.fixture
def checkin_runtime(tmp_path):
    runtime = service_runtime("checkin", tmp_path)
    yield runtime
    runtime.dispose()


@pytest.fixture
def door(checkin_runtime) -> Door:
    return Door(checkin_runtime)
