"""What organisers set up: events, their ticket types, sessions and questions. No Flask, no
broker.

An event is a draft until published; once published its changes are announced as
event.updated (with its status: published, unpublished or cancelled), so ticketing and check-in
keep their copies in step. Another organisation's event answers exactly like a missing one.
"""

from copy import deepcopy
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.registration.announcements import announce_event
from services.registration.answers import questions_of
from services.registration.models import (
    CANCELLED,
    CANCELLED_EVENT,
    DRAFT,
    LIVE,
    PUBLISHED,
    UNPUBLISHED,
    WITH_OPTIONS,
    Event,
    Question,
    Registration,
    TicketType,
    TimeSlot,
)
from services.registration.places import fill_from_waitlist, fill_time_slot_from_waitlist, leave
from services.registration.wording import N_
from shared.auth import Principal, limited_to
from shared.db import Transaction
from shared.errors import Conflict, InvalidRequest, NotFound

EVENT_IS_CANCELLED = N_("The event is cancelled.")


def create_event(tx: Transaction, organiser: Principal, fields: dict) -> Event:
    _check_period(fields["starts_at"], fields["ends_at"])
    event = Event(organisation_id=organiser.organisation_id, status=DRAFT, **fields)
    tx.session.add(event)
    return event


def update_event(tx: Transaction, organiser: Principal, event_id: str, fields: dict) -> Event:
    """Change what the organiser sent; an event the public has seen announces the change."""
    event = _changeable_event(tx.session, organiser, event_id)
    _check_period(fields.get("starts_at", event.starts_at), fields.get("ends_at", event.ends_at))
    for name, value in fields.items():
        setattr(event, name, value)
    if event.status != DRAFT:
        announce_event(tx, "event.updated", event)
    return event


COPY_SUFFIX = " (copy)"


def duplicate_event(tx: Transaction, organiser: Principal, event_id: str) -> Event:
    """A new draft with the event's fields, ticket types, sessions and questions (none of its
    registrations), its title suffixed " (copy)"."""
    original = organiser_event(tx.session, organiser, event_id)
    title = original.title[: 200 - len(COPY_SUFFIX)] + COPY_SUFFIX
    copy = Event(status=DRAFT, **_set_up_fields(original, "status", "title"), title=title)
    tx.session.add(copy)
    tx.session.flush()  # the copy's id, for its ticket types, sessions and questions
    for rows in (
        ticket_types_of(tx.session, event_id),
        time_slots_of(tx.session, event_id),
        questions_of(tx.session, event_id),
    ):
        for row in rows:
            tx.session.add(type(row)(**_set_up_fields(row), event_id=copy.id))
    return copy


def _set_up_fields(row, *skip: str) -> dict:
    """What the organiser set up on a row: its columns but its id, its event, what
    registrations and time wrote, and those named in `skip`."""
    own = {"id", "event_id", "created_at", "confirmed_count", "personal_data_erased_at"}
    return {
        column.key: deepcopy(getattr(row, column.key))
        for column in row.__table__.columns
        if column.key not in own.union(skip)
    }


def publish_event(tx: Transaction, organiser: Principal, event_id: str) -> Event:
    event = _changeable_event(tx.session, organiser, event_id)
    if event.status == PUBLISHED:
        return event
    if not ticket_types_of(tx.session, event.id):
        raise Conflict(N_("Add at least one ticket type before publishing."))
    event.status = PUBLISHED
    announce_event(tx, "event.published", event)
    return event


def unpublish_event(tx: Transaction, organiser: Principal, event_id: str) -> Event:
    """Hide a published event and close it to new registrations; those made stay."""
    event = _changeable_event(tx.session, organiser, event_id)
    if event.status != PUBLISHED:
        raise Conflict(N_("Only a published event can be unpublished."))
    event.status = UNPUBLISHED
    announce_event(tx, "event.updated", event)
    return event


def cancel_event(
    tx: Transaction, organiser: Principal, event_id: str, now: datetime | None = None
) -> Event:
    """Cancel the event and every live registration of it (their tickets are revoked)."""
    now = now or datetime.now(UTC)
    event = organiser_event(tx.session, organiser, event_id)
    if event.status == CANCELLED_EVENT:
        return event
    was_announced = event.status != DRAFT
    event.status = CANCELLED_EVENT
    live = tx.session.scalars(
        select(Registration)
        .where(Registration.event_id == event.id, Registration.status.in_(LIVE))
        .order_by(Registration.created_at)
        .with_for_update()
    )
    for registration in live:
        leave(tx, registration, CANCELLED, "event_cancelled", now)
    if was_announced:
        announce_event(tx, "event.updated", event)
    return event


def add_ticket_type(tx: Transaction, organiser: Principal, event_id: str, fields: dict):
    event = _changeable_event(tx.session, organiser, event_id)
    ticket_type = TicketType(event_id=event.id, **fields)
    _check_sales_window(ticket_type)
    tx.session.add(ticket_type)
    tx.session.flush()
    if event.status != DRAFT:
        announce_event(tx, "event.updated", event)
    return ticket_type


def update_ticket_type(
    tx: Transaction,
    organiser: Principal,
    ticket_type_id: str,
    fields: dict,
    now: datetime | None = None,
) -> TicketType:
    """Change a ticket type; a larger quota goes to the waitlist first."""
    ticket_type, event = _changed(
        tx.session, organiser, TicketType, ticket_type_id, fields, N_("No such ticket type.")
    )
    _check_sales_window(ticket_type)
    tx.session.flush()
    fill_from_waitlist(tx, event, ticket_type.id, now or datetime.now(UTC))
    if event.status != DRAFT:
        announce_event(tx, "event.updated", event)
    tx.session.refresh(ticket_type)
    return ticket_type


def add_time_slot(tx: Transaction, organiser: Principal, event_id: str, fields: dict):
    event = _changeable_event(tx.session, organiser, event_id)
    time_slot = TimeSlot(event_id=event.id, **fields)
    _check_session_period(event, time_slot)
    tx.session.add(time_slot)
    return time_slot


def update_time_slot(
    tx: Transaction, organiser: Principal, session_id: str, fields: dict
) -> TimeSlot:
    """Change a session; a larger capacity goes to its waitlist first."""
    time_slot, event = _changed(
        tx.session, organiser, TimeSlot, session_id, fields, N_("No such session.")
    )
    _check_session_period(event, time_slot)
    tx.session.flush()
    fill_time_slot_from_waitlist(tx.session, time_slot.id)
    tx.session.refresh(time_slot)
    return time_slot


def add_question(tx: Transaction, organiser: Principal, event_id: str, fields: dict):
    event = _changeable_event(tx.session, organiser, event_id)
    position = fields.pop("position", None)
    if position is None:
        position = len(questions_of(tx.session, event.id))
    question = Question(
        event_id=event.id,
        position=position,
        **{"options": [], "required": False, "translations": {}, **fields},
    )
    _check_question(question)
    tx.session.add(question)
    return question


def update_question(tx: Transaction, organiser: Principal, question_id: str, fields: dict):
    question = _organiser_question(tx.session, organiser, question_id)
    for name, value in fields.items():
        setattr(question, name, value)
    _check_question(question)
    return question


def move_question(tx: Transaction, organiser: Principal, question_id: str, step: int) -> None:
    """Ask the question one place earlier (step -1) or later (+1) on the form; the first
    stays first and the last last. The positions become 0, 1, 2... again."""
    question = _organiser_question(tx.session, organiser, question_id)
    questions = questions_of(tx.session, question.event_id)
    index = questions.index(question)
    target = min(max(index + step, 0), len(questions) - 1)
    questions.insert(target, questions.pop(index))
    for position, each in enumerate(questions):
        each.position = position


def remove_question(
    tx: Transaction, organiser: Principal, question_id: str, now: datetime | None = None
) -> None:
    """Stop asking a question; answers already given are kept with their registrations."""
    question = _organiser_question(tx.session, organiser, question_id)
    question.removed_at = now or datetime.now(UTC)


# --- reading ------------------------------------------------------------------------------


def organiser_event(session: Session, organiser: Principal, event_id: str) -> Event:
    event = session.get(Event, event_id)
    # Another organisation's event answers exactly like a missing one.
    if event is None or not organiser.may_open(event.organisation_id, event.id):
        raise NotFound(N_("No such event."))
    return event


def organiser_events(session: Session, organiser: Principal) -> list[Event]:
    return list(
        session.scalars(
            select(Event)
            .where(Event.organisation_id == organiser.organisation_id)
            .where(limited_to(Event.id, organiser))
            .order_by(Event.starts_at.desc())
        )
    )


def published_event(session: Session, event_id: str) -> Event:
    event = session.get(Event, event_id)
    if event is None or event.status != PUBLISHED:
        raise NotFound(N_("No such published event."))
    return event


def published_events(session: Session, category: str | None = None) -> list[Event]:
    query = select(Event).where(Event.status == PUBLISHED).order_by(Event.starts_at)
    events = session.scalars(query)
    return [event for event in events if category is None or category in event.categories]


def ticket_types_of(session: Session, event_id: str) -> list[TicketType]:
    return list(
        session.scalars(
            select(TicketType).where(TicketType.event_id == event_id).order_by(TicketType.name)
        )
    )


def time_slots_of(session: Session, event_id: str) -> list[TimeSlot]:
    return list(
        session.scalars(
            select(TimeSlot)
            .where(TimeSlot.event_id == event_id)
            .order_by(TimeSlot.starts_at, TimeSlot.title)
        )
    )


# --- checks -------------------------------------------------------------------------------


def _changeable_event(session: Session, organiser: Principal, event_id: str) -> Event:
    event = organiser_event(session, organiser, event_id)
    if event.status == CANCELLED_EVENT:
        raise Conflict(EVENT_IS_CANCELLED)
    return event


def _changed(session: Session, organiser: Principal, model, row_id: str, fields: dict, missing):
    """A ticket type or session of one of the organiser's events, locked, with `fields`
    applied; and its event."""
    row = session.get(model, row_id, with_for_update=True)
    if row is None:
        raise NotFound(missing)
    event = _changeable_event(session, organiser, row.event_id)
    for name, value in fields.items():
        setattr(row, name, value)
    return row, event


def _organiser_question(session: Session, organiser: Principal, question_id: str) -> Question:
    question = session.get(Question, question_id)
    if question is None or question.removed_at is not None:
        raise NotFound(N_("No such question."))
    _changeable_event(session, organiser, question.event_id)
    return question


def _check_period(starts_at: datetime, ends_at: datetime) -> None:
    if ends_at <= starts_at:
        raise InvalidRequest(
            N_("The event must end after it starts."),
            errors={"json": {"ends_at": [N_("Must be later than the start.")]}},
        )


def _check_session_period(event: Event, time_slot: TimeSlot) -> None:
    if time_slot.ends_at <= time_slot.starts_at:
        raise InvalidRequest(
            N_("The session must end after it starts."),
            errors={"json": {"ends_at": [N_("Must be later than the start.")]}},
        )
    if time_slot.starts_at < event.starts_at or time_slot.ends_at > event.ends_at:
        raise InvalidRequest(
            N_("A session takes place during its event."),
            errors={"json": {"starts_at": [N_("Must be within the event's start and end.")]}},
        )


def _check_sales_window(ticket_type: TicketType) -> None:
    opens, closes = ticket_type.sales_opens_at, ticket_type.sales_closes_at
    if opens is not None and closes is not None and closes <= opens:
        raise InvalidRequest(
            N_("Sales must close after they open."),
            errors={"json": {"sales_closes_at": [N_("Must be later than the start.")]}},
        )


def _check_question(question: Question) -> None:
    errors = {}
    if question.kind in WITH_OPTIONS and not question.options:
        errors["options"] = [N_("A choice needs options.")]
    if question.kind not in WITH_OPTIONS and question.options:
        errors["options"] = [N_("Only choices have options.")]
    if len(set(question.options)) != len(question.options):
        errors["options"] = [N_("Each option must be different.")]
    for locale, texts in (question.translations or {}).items():
        if "options" in texts and len(texts["options"]) != len(question.options):
            errors["translations"] = {locale: {"options": [N_("One for each option, in order.")]}}
    if errors:
        raise InvalidRequest(N_("The question is not complete."), errors={"json": errors})
