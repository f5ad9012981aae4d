"""Registration rules: who gets a place, who waits, who needs approval; what attendees may do
with their private link and what organisers see. No Flask, no broker.

Places, seats and the waitlist are in places.py; events, ticket types, time slots and questions
in event_admin.py; answers and consents in answers.py; erasure in personal_data.py.
Each function works inside the transaction it is given, which service.py opens and commits.
"""

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import bindparam, exists, func, or_, select, update
from sqlalchemy.orm import Session

from services.registration.admission import EventTerms, TicketTypeTerms, admit
from services.registration.announcements import announce_status
from services.registration.answers import check_answers, consent_changes, questions_of
from services.registration.event_admin import organiser_event, ticket_types_of, time_slots_of
from services.registration.idempotency import (
    Idempotency,
    answered_before,
    fingerprint,
    remember,
)
from services.registration.mail.manage_links import seal_manage_token
from services.registration.mail.outbox import queue_status_mail
from services.registration.models import (
    CANCELLED,
    CONFIRMED,
    CONSENT,
    LIVE,
    OFFERED,
    PENDING_APPROVAL,
    PUBLISHED,
    REJECTED,
    REQUESTED,
    WAITLISTED,
    ConsentRecord,
    Event,
    IdempotencyRecord,
    Question,
    Registration,
    Seat,
    TicketType,
    TimeSlot,
)
from services.registration.places import confirm, leave, places_of, take_place, take_seats
from services.registration.wording import DEFAULT_LANGUAGE, N_
from shared.auth import Principal, secrets_equal, token_digest
from shared.bus.outbox import withdraw
from shared.db import Transaction
from shared.errors import Conflict, InvalidRequest, NotFound
from shared.models import new_id, utcnow

# Withdrawing a consent the event requires would leave a registration it cannot take: refused,
# saying how to withdraw it after all.
KEEPING_REQUIRED_CONSENT = N_(
    "This consent is required to take part, so it stays given while you are registered: to "
    "withdraw it, cancel your registration."
)


@dataclass(frozen=True)
class NewRegistration:
    registration: Registration
    created: bool
    places: list[Seat]


@dataclass(frozen=True)
class RegistrationFilter:
    status: str | None = None
    ticket_type_id: str | None = None
    search: str | None = None


@dataclass(frozen=True)
class RegistrationsReport:
    """An event's registrations as organisers see them, with what it takes to read them."""

    event: Event
    registrations: list[Registration]
    places: dict[str, list[Seat]]
    ticket_types: list[TicketType]
    time_slots: list[TimeSlot]
    questions: list[Question]


@dataclass(frozen=True)
class AttendeeRecord:
    """One registration as organisers see it on its own page: what the attendee chose and
    answered, every consent they gave or withdrew, and where they stand."""

    registration: Registration
    event: Event
    ticket_type: TicketType
    seats: list[tuple[TimeSlot, Seat]]
    questions: list[Question]
    consents: list[ConsentRecord]
    # On the waitlist: how many are ahead of them, plus one.
    waitlist_position: int | None


@dataclass(frozen=True)
class Choices:
    """What an attendee chooses besides the ticket type."""

    session_ids: tuple[str, ...] = ()
    answers: dict = field(default_factory=dict)
    language: str = DEFAULT_LANGUAGE


def register(
    tx: Transaction,
    event_id: str,
    ticket_type_id: str,
    attendee: dict,
    choices: Choices = Choices(),  # noqa: B008 (frozen, never changed)
    idempotency: Idempotency | None = None,
    now: datetime | None = None,
) -> NewRegistration:
    """Take a place if one is left, else join the waitlist; a ticket type that needs approval
    waits for the organiser (admission.admit decides). The registration returned carries its
    manage token. The same request sent again with the same idempotency key repeats the first
    answer.

    This is the ticket drop's hot path: in the common case (no sessions chosen, no limit per
    email, no idempotency key) one SELECT, the registration's INSERT, the event's INSERT, the
    counter's conditional UPDATE and the commit, each a Core statement built once."""
    now = now or datetime.now(UTC)
    request_sha256 = _request_sha256(ticket_type_id, attendee, choices)
    found = _event_and_ticket_type(tx.session, event_id, ticket_type_id, idempotency)
    if found.asked_before:
        return _answered_before(tx.session, event_id, idempotency, request_sha256)
    # As the counter stood a moment ago: a prediction, which the UPDATE that takes
    # the place confirms or corrects (_announce_then_take_place).
    status = admit(*_terms(found), now)
    questions, time_slots, answers = _check_choices(
        tx.session, event_id, choices, found.asks_questions
    )
    if found.per_order_limit is not None:
        _check_per_order_limit(tx.session, ticket_type_id, found.per_order_limit, attendee["email"])
    registration = _insert_registration(
        tx,
        {
            "event_id": event_id,
            "ticket_type_id": ticket_type_id,
            "attendee_name": attendee["name"],
            "attendee_email": attendee["email"],
            "language": choices.language,
            "answers": answers,
            "status": status,
        },
    )
    if idempotency is not None:
        remember(
            tx.session,
            event_id,
            idempotency,
            request_sha256,
            registration.id,
            registration.manage_token,
            now,
        )
    places = [
        Seat(registration_id=registration.id, session_id=s.id, status=REQUESTED) for s in time_slots
    ]
    consents = consent_changes(questions, {}, answers, registration.id, choices.language)
    tx.session.add_all([*places, *consents])
    if status != PENDING_APPROVAL:
        _announce_then_take_place(tx, registration)
        if registration.status == CONFIRMED:
            take_seats(tx.session, places)
    # Once the status is decided: a place taken at once owes none (ticketing mails the
    # ticket), so the ticket drop's hot path queues no mail.
    queue_status_mail(tx, registration, None)
    return NewRegistration(registration, True, places)


def answer_again(
    session: Session,
    event_id: str,
    ticket_type_id: str,
    attendee: dict,
    choices: Choices,
    idempotency: Idempotency,
) -> NewRegistration:
    """The first answer to this request with this idempotency key (which a request that
    raced it may have stored first)."""
    request_sha256 = _request_sha256(ticket_type_id, attendee, choices)
    return _answered_before(session, event_id, idempotency, request_sha256)


def _announce_then_take_place(tx: Transaction, registration: Registration) -> None:
    """Take the place of a registration stored with the status the counter predicted,
    announcing that status first; when the prediction lost a race, correct the status and
    its announcement.

    Why: every registration of a ticket type queues for the row lock of its place counter,
    which the conditional UPDATE takes and only the commit releases. So the predicted status
    is stored and its event written (flushed) before the UPDATE, which then holds the lock
    only for itself and the commit; the ticket drop's throughput rests on it. When the UPDATE
    disagrees (a place was taken or freed since the read: a few registrations at the moment
    the quota fills), the status is set right and the predicted event withdrawn, in the same
    transaction, for the right one; to the bus the wrong one never existed."""
    predicted = announce_status(tx, registration)
    tx.flush()
    taken = take_place(tx.session, registration.ticket_type_id)
    decided = CONFIRMED if taken else WAITLISTED
    if decided != registration.status:
        tx.session.execute(_SET_STATUS, {"registration_id": registration.id, "status": decided})
        registration.status = decided
        withdraw(tx, predicted)
        announce_status(tx, registration)


def _request_sha256(ticket_type_id: str, attendee: dict, choices: Choices) -> str:
    return fingerprint(
        {
            "ticket_type_id": ticket_type_id,
            "attendee": attendee,
            "session_ids": sorted(choices.session_ids),
            "answers": choices.answers,
            "language": choices.language,
        }
    )


def _answered_before(
    session: Session, event_id: str, idempotency: Idempotency, request_sha256: str
) -> NewRegistration:
    registration_id, manage_token = answered_before(session, event_id, idempotency, request_sha256)
    earlier = session.get(Registration, registration_id)
    earlier.manage_token = manage_token
    return NewRegistration(earlier, False, places_of(session, earlier.id))


_REGISTRATIONS = Registration.__table__
_INSERT_REGISTRATION = _REGISTRATIONS.insert()
# updated_at is the column's onupdate.
_SET_STATUS = (
    update(_REGISTRATIONS)
    .where(_REGISTRATIONS.c.id == bindparam("registration_id"))
    .values(status=bindparam("status"))
)


def _insert_registration(tx: Transaction, fields: dict) -> Registration:
    """Store a new registration with one INSERT on the session's connection (no flush, no
    identity map); return it as callers read it, a Registration not attached to the session
    (the columns left out, such as offer_expires_at, are NULL and read as None). Its manage
    token is kept as a digest, which opens it, and sealed, for its mails."""
    stored_at = utcnow()
    manage_token = secrets.token_urlsafe(24)
    registration_id = new_id()
    values = {
        "id": registration_id,
        **fields,
        "manage_token_sha256": token_digest(manage_token),
        "sealed_manage_token": seal_manage_token(tx.secret_box, registration_id, manage_token),
        "created_at": stored_at,
        "updated_at": stored_at,
    }
    tx.session.connection().execute(_INSERT_REGISTRATION, values)
    return Registration(**values, manage_token=manage_token)


def attendee_registration(session: Session, registration_id: str, manage_token: str | None):
    registration = session.get(Registration, registration_id)
    if (
        registration is None
        or not manage_token
        or not secrets_equal(registration.manage_token_sha256, token_digest(manage_token))
    ):
        raise NotFound(N_("No such registration for this link."))
    return registration


def cancel(
    tx: Transaction, registration_id: str, manage_token: str | None, now: datetime | None = None
) -> Registration:
    """Cancel a registration; a freed place goes at once to the first on the waitlist."""
    registration = _locked_attendee_registration(tx.session, registration_id, manage_token)
    if registration.status not in LIVE:
        return registration
    leave(tx, registration, CANCELLED, "cancelled_by_attendee", now or datetime.now(UTC))
    return registration


def cancel_for_attendee(
    tx: Transaction, organiser: Principal, registration_id: str, now: datetime | None = None
) -> Registration:
    """An organiser cancels a registration (the attendee asked by phone, a duplicate...): as
    the attendee's own cancel does, the place goes at once to the first on the waitlist."""
    registration = organiser_registration(tx.session, organiser, registration_id)
    tx.session.refresh(registration, with_for_update=True)
    if registration.status not in LIVE:
        raise Conflict(N_("Only a live registration can be cancelled."))
    leave(tx, registration, CANCELLED, "cancelled_by_organiser", now or datetime.now(UTC))
    return registration


def claim(
    tx: Transaction, registration_id: str, manage_token: str | None, now: datetime | None = None
) -> Registration:
    """Take up a place offered from the waitlist, before the offer lapses."""
    now = now or datetime.now(UTC)
    registration = _locked_attendee_registration(tx.session, registration_id, manage_token)
    if registration.status == CONFIRMED:
        return registration
    if registration.status != OFFERED or registration.offer_expires_at <= now:
        raise Conflict(N_("There is no place on offer for this registration."))
    confirm(tx, registration)
    return registration


def change_answers(
    tx: Transaction,
    registration_id: str,
    manage_token: str | None,
    answers: dict,
    language: str | None = None,
) -> Registration:
    """Replace the answers given (the others stay); consents given or withdrawn are recorded."""
    registration = _locked_attendee_registration(tx.session, registration_id, manage_token)
    if registration.status not in LIVE or registration.erased_at is not None:
        raise Conflict(N_("This registration can no longer be changed."))
    questions = questions_of(tx.session, registration.event_id)
    kept, errors = check_answers(questions, {**registration.answers, **answers})
    for question in questions:
        if question.kind == CONSENT and question.required and answers.get(question.id) is False:
            errors[question.id] = [KEEPING_REQUIRED_CONSENT]
    _refuse_if({"answers": errors} if errors else {})
    language = language or registration.language
    tx.session.add_all(
        consent_changes(questions, registration.answers, kept, registration.id, language)
    )
    registration.answers = kept
    registration.language = language
    return registration


def approve(tx: Transaction, organiser: Principal, registration_id: str) -> Registration:
    """Let an applicant in: confirmed while places last, else waitlisted."""
    registration = _pending(tx.session, organiser, registration_id)
    if take_place(tx.session, registration.ticket_type_id):
        confirm(tx, registration)
    else:
        registration.status = WAITLISTED
        announce_status(tx, registration)
        queue_status_mail(tx, registration, PENDING_APPROVAL)
    return registration


def reject(
    tx: Transaction,
    organiser: Principal,
    registration_id: str,
    now: datetime | None = None,
    reason: str | None = None,
) -> Registration:
    """Turn an applicant down; `reason`, the organiser's words to them, goes in their mail."""
    registration = _pending(tx.session, organiser, registration_id)
    registration.rejection_reason = (reason or "").strip() or None
    leave(tx, registration, REJECTED, "rejected", now or datetime.now(UTC))
    return registration


def registrations_report(
    session: Session,
    organiser: Principal,
    event_id: str,
    where: RegistrationFilter = RegistrationFilter(),  # noqa: B008 (frozen, never changed)
) -> RegistrationsReport:
    event = organiser_event(session, organiser, event_id)
    query = select(Registration).where(Registration.event_id == event.id)
    if where.status:
        query = query.where(Registration.status == where.status)
    if where.ticket_type_id:
        query = query.where(Registration.ticket_type_id == where.ticket_type_id)
    if where.search:
        text = where.search.lower()
        query = query.where(
            or_(
                func.lower(Registration.attendee_name).contains(text, autoescape=True),
                func.lower(Registration.attendee_email).contains(text, autoescape=True),
            )
        )
    registrations = list(session.scalars(query.order_by(Registration.created_at, Registration.id)))
    return RegistrationsReport(
        event=event,
        registrations=registrations,
        places=seats_by_registration(session, [registration.id for registration in registrations]),
        ticket_types=ticket_types_of(session, event.id),
        time_slots=time_slots_of(session, event.id),
        questions=questions_of(session, event.id),
    )


def organiser_registration(
    session: Session, organiser: Principal, registration_id: str
) -> Registration:
    registration = session.get(Registration, registration_id)
    if registration is None:
        raise NotFound(N_("No such registration."))
    organiser_event(session, organiser, registration.event_id)
    return registration


def attendee_record(session: Session, organiser: Principal, registration_id: str) -> AttendeeRecord:
    registration = organiser_registration(session, organiser, registration_id)
    slots = {slot.id: slot for slot in time_slots_of(session, registration.event_id)}
    seats = seats_by_registration(session, [registration.id])[registration.id]
    consents = session.scalars(
        select(ConsentRecord)
        .where(ConsentRecord.registration_id == registration.id)
        .order_by(ConsentRecord.recorded_at, ConsentRecord.id)
    )
    return AttendeeRecord(
        registration=registration,
        event=session.get(Event, registration.event_id),
        ticket_type=session.get(TicketType, registration.ticket_type_id),
        seats=[(slots[seat.session_id], seat) for seat in seats if seat.session_id in slots],
        questions=questions_of(session, registration.event_id),
        consents=list(consents),
        waitlist_position=waitlist_position(session, registration),
    )


def waitlist_position(session: Session, registration: Registration) -> int | None:
    if registration.status != WAITLISTED:
        return None
    ahead = session.scalar(
        select(func.count())
        .select_from(Registration)
        .where(
            Registration.ticket_type_id == registration.ticket_type_id,
            Registration.status == WAITLISTED,
            Registration.created_at < registration.created_at,
        )
    )
    return ahead + 1


def seats_by_registration(session: Session, registration_ids: list[str]) -> dict[str, list]:
    """Each registration's session seats, by registration id."""
    places: dict[str, list] = {registration_id: [] for registration_id in registration_ids}
    if registration_ids:
        for place in session.scalars(
            select(Seat).where(Seat.registration_id.in_(registration_ids)).order_by(Seat.session_id)
        ):
            places[place.registration_id].append(place)
    return places


def answer_problems(session: Session, event_id: str, answers: dict) -> dict:
    """What is wrong with these answers to the event's questions (a form shows it beside the
    rest of its mistakes)."""
    return check_answers(questions_of(session, event_id), answers)[1]


def record_arrival(tx: Transaction, registration_id: str, scanned_at: datetime) -> None:
    """Remember the first admitted scan, so organisers see who came."""
    registration = tx.session.get(Registration, registration_id)
    if registration is not None and (
        registration.checked_in_at is None or scanned_at < registration.checked_in_at
    ):
        registration.checked_in_at = scanned_at


# --- checks -------------------------------------------------------------------------------


_EVENTS, _TICKET_TYPES, _QUESTIONS = Event.__table__, TicketType.__table__, Question.__table__
_IDEMPOTENCY_RECORDS = IdempotencyRecord.__table__
_EVENT_AND_TICKET_TYPE = (
    select(
        _EVENTS.c.ends_at,
        _TICKET_TYPES.c.id.label("ticket_type_id"),
        _TICKET_TYPES.c.quota,
        _TICKET_TYPES.c.confirmed_count,
        _TICKET_TYPES.c.sales_opens_at,
        _TICKET_TYPES.c.sales_closes_at,
        _TICKET_TYPES.c.per_order_limit,
        _TICKET_TYPES.c.requires_approval,
        exists()
        .where(_QUESTIONS.c.event_id == _EVENTS.c.id, _QUESTIONS.c.removed_at.is_(None))
        .label("asks_questions"),
        exists()
        .where(
            _IDEMPOTENCY_RECORDS.c.event_id == _EVENTS.c.id,
            _IDEMPOTENCY_RECORDS.c.client_address == bindparam("client_address"),
            _IDEMPOTENCY_RECORDS.c.key == bindparam("idempotency_key"),
        )
        .label("asked_before"),
    )
    .select_from(
        _EVENTS.outerjoin(
            _TICKET_TYPES,
            (_TICKET_TYPES.c.event_id == _EVENTS.c.id)
            & (_TICKET_TYPES.c.id == bindparam("ticket_type_id")),
        )
    )
    .where(_EVENTS.c.id == bindparam("event_id"), _EVENTS.c.status == PUBLISHED)
)


def _event_and_ticket_type(
    session: Session, event_id: str, ticket_type_id: str, idempotency: Idempotency | None
):
    """In one round trip (registration is the hot path): what the published event and its
    ticket type decide (_terms), whether the event asks questions, and whether the same
    client sent an earlier request with this idempotency key."""
    keys = {
        "event_id": event_id,
        "ticket_type_id": ticket_type_id,
        "client_address": idempotency and idempotency.client_address,
        "idempotency_key": idempotency and idempotency.key,
    }
    row = session.connection().execute(_EVENT_AND_TICKET_TYPE, keys).first()
    if row is None:
        raise NotFound(N_("No such published event."))
    if row.ticket_type_id is None:
        raise InvalidRequest(
            N_("Unknown ticket type."),
            errors={"json": {"ticket_type_id": [N_("Not a ticket type of this event.")]}},
        )
    return row


def _terms(found) -> tuple[EventTerms, TicketTypeTerms]:
    """The event and the ticket type of _event_and_ticket_type's row, as admission reads them."""
    return EventTerms(ends_at=found.ends_at), TicketTypeTerms(
        quota=found.quota,
        confirmed_count=found.confirmed_count,
        sales_opens_at=found.sales_opens_at,
        sales_closes_at=found.sales_closes_at,
        requires_approval=found.requires_approval,
    )


def _check_choices(
    session: Session, event_id: str, choices: Choices, asks_questions: bool
) -> tuple[list[Question], list[TimeSlot], dict]:
    """The event's questions, the time slots chosen and the answers to keep; or every mistake."""
    errors = {}
    time_slots = []
    if choices.session_ids:
        time_slots = list(
            session.scalars(
                select(TimeSlot)
                .where(TimeSlot.id.in_(choices.session_ids), TimeSlot.event_id == event_id)
                .order_by(TimeSlot.id)
            )
        )
        if len(time_slots) != len(set(choices.session_ids)):
            errors["session_ids"] = [N_("Not a session of this event.")]
    questions = questions_of(session, event_id) if asks_questions else []
    answers, answer_errors = check_answers(questions, choices.answers)
    if answer_errors:
        errors["answers"] = answer_errors
    _refuse_if(errors)
    return questions, time_slots, answers


def _check_per_order_limit(session: Session, ticket_type_id: str, limit: int, email: str) -> None:
    # Serialise registrations of this ticket type while counting, so two at once cannot
    # both slip under the limit.
    session.execute(select(TicketType.id).where(TicketType.id == ticket_type_id).with_for_update())
    held = session.scalar(
        select(func.count())
        .select_from(Registration)
        .where(
            Registration.ticket_type_id == ticket_type_id,
            func.lower(Registration.attendee_email) == email.lower(),
            Registration.status.in_(LIVE),
        )
    )
    if held >= limit:
        message = N_("This email address already has as many registrations as allowed.")
        raise Conflict(message, limit=limit, errors={"json": {"attendee": {"email": [message]}}})


def _refuse_if(errors: dict) -> None:
    if errors:
        raise InvalidRequest(N_("Some answers need another look."), errors={"json": errors})


def _pending(session: Session, organiser: Principal, registration_id: str) -> Registration:
    registration = organiser_registration(session, organiser, registration_id)
    session.refresh(registration, with_for_update=True)
    if registration.status != PENDING_APPROVAL:
        raise Conflict(N_("Only a registration waiting for approval can be approved or rejected."))
    return registration


def _locked_attendee_registration(
    session: Session, registration_id: str, manage_token: str | None
) -> Registration:
    registration = attendee_registration(session, registration_id, manage_token)
    session.refresh(registration, with_for_update=True)
    return registration
