"""Registration's service layer: each operation the API, the pages, the consumers and the
worker's periodic tasks call, and the only module they call. A write opens its transaction
and commits it (UnitOfWork.run), a consumer's works in the transaction it is handed, a read
takes a session. The rules live in the modules it calls: registrations (places, the
waitlist, approval, what attendees may do with their link), event_admin (what organisers set
up), personal_data (erasure), places, answers and idempotency. No Flask, no broker."""

from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.registration import (
    accounts,
    csv_export,
    event_admin,
    idempotency,
    organiser_sessions,
    personal_data,
    places,
    registrations,
)
from services.registration.accounts import (
    CODE_MISSING,
    CODE_WRONG,
    NewPersonalToken,
    SignedIn,
    SignInRefused,
    TeamMember,
)
from services.registration.answers import questions_of
from services.registration.idempotency import Idempotency
from services.registration.models import (
    Event,
    Invitation,
    Organisation,
    PasswordReset,
    PersonalToken,
    Question,
    Registration,
    TicketType,
    TimeSlot,
    tables,
)
from services.registration.registrations import (
    AttendeeRecord,
    Choices,
    NewRegistration,
    RegistrationFilter,
    RegistrationsReport,
)
from services.registration.wording import DEFAULT_LANGUAGE
from shared.auth import Principal
from shared.db import Transaction, UnitOfWork
from shared.identity import is_access_token, read_access_token
from shared.secret_box import SecretBox

__all__ = [
    "AttendeeRecord",
    "CODE_MISSING",
    "CODE_WRONG",
    "Choices",
    "NewRegistration",
    "RegistrationFilter",
    "RegistrationsReport",
]


# --- events, as the public and organisers read them -------------------------------------


def with_details(session: Session, event: Event) -> Event:
    """The event with its ticket types, sessions and questions, as EventOut shows it."""
    event.ticket_types = event_admin.ticket_types_of(session, event.id)
    event.sessions = event_admin.time_slots_of(session, event.id)
    event.questions = questions_of(session, event.id)
    return event


def published_events(session: Session, category: str | None = None) -> list[Event]:
    return [with_details(session, e) for e in event_admin.published_events(session, category)]


def published_event(session: Session, event_id: str) -> Event:
    return with_details(session, event_admin.published_event(session, event_id))


def organiser_events(session: Session, organiser: Principal) -> list[Event]:
    return [with_details(session, e) for e in event_admin.organiser_events(session, organiser)]


def organiser_event(session: Session, organiser: Principal, event_id: str) -> Event:
    return with_details(session, event_admin.organiser_event(session, organiser, event_id))


def registration_event(session: Session, registration: Registration) -> Event:
    """The event of a registration its attendee has opened."""
    return with_details(session, session.get(Event, registration.event_id))


# --- what organisers set up -------------------------------------------------------------


def create_event(uow: UnitOfWork, organiser: Principal, fields: dict) -> Event:
    return uow.run(event_admin.create_event, organiser, fields)


def update_event(uow: UnitOfWork, organiser: Principal, event_id: str, fields: dict) -> Event:
    return uow.run(event_admin.update_event, organiser, event_id, fields)


def duplicate_event(uow: UnitOfWork, organiser: Principal, event_id: str) -> Event:
    return uow.run(event_admin.duplicate_event, organiser, event_id)


def publish_event(uow: UnitOfWork, organiser: Principal, event_id: str) -> Event:
    return uow.run(event_admin.publish_event, organiser, event_id)


def unpublish_event(uow: UnitOfWork, organiser: Principal, event_id: str) -> Event:
    return uow.run(event_admin.unpublish_event, organiser, event_id)


def cancel_event(
    uow: UnitOfWork, organiser: Principal, event_id: str, now: datetime | None = None
) -> Event:
    return uow.run(event_admin.cancel_event, organiser, event_id, now)


def add_ticket_type(
    uow: UnitOfWork, organiser: Principal, event_id: str, fields: dict
) -> TicketType:
    return uow.run(event_admin.add_ticket_type, organiser, event_id, fields)


def update_ticket_type(
    uow: UnitOfWork,
    organiser: Principal,
    ticket_type_id: str,
    fields: dict,
    now: datetime | None = None,
) -> TicketType:
    return uow.run(event_admin.update_ticket_type, organiser, ticket_type_id, fields, now)


def add_time_slot(uow: UnitOfWork, organiser: Principal, event_id: str, fields: dict) -> TimeSlot:
    return uow.run(event_admin.add_time_slot, organiser, event_id, fields)


def update_time_slot(
    uow: UnitOfWork, organiser: Principal, session_id: str, fields: dict
) -> TimeSlot:
    return uow.run(event_admin.update_time_slot, organiser, session_id, fields)


def add_question(uow: UnitOfWork, organiser: Principal, event_id: str, fields: dict) -> Question:
    return uow.run(event_admin.add_question, organiser, event_id, fields)


def update_question(
    uow: UnitOfWork, organiser: Principal, question_id: str, fields: dict
) -> Question:
    return uow.run(event_admin.update_question, organiser, question_id, fields)


def move_question(uow: UnitOfWork, organiser: Principal, question_id: str, step: int) -> None:
    uow.run(event_admin.move_question, organiser, question_id, step)


def remove_question(
    uow: UnitOfWork, organiser: Principal, question_id: str, now: datetime | None = None
) -> None:
    uow.run(event_admin.remove_question, organiser, question_id, now)


# --- attendees ----------------------------------------------------------------------------


def register(
    uow: UnitOfWork,
    event_id: str,
    ticket_type_id: str,
    attendee: dict,
    choices: Choices = Choices(),  # noqa: B008 (frozen, never changed)
    idempotency: Idempotency | None = None,
    now: datetime | None = None,
) -> NewRegistration:
    """registrations.register, committed at once: the commit releases the counter's row lock
    that its last statement took."""
    arguments = (event_id, ticket_type_id, attendee, choices)
    try:
        return uow.run(registrations.register, *arguments, idempotency, now)
    except IntegrityError:
        if idempotency is None:
            raise
        # The same key from the same client raced us and won: answer as it was answered.
        with uow:
            return registrations.answer_again(uow.session, *arguments, idempotency)


def register_as_requested(
    uow: UnitOfWork,
    event_id: str,
    fields: dict,
    idempotency_key: str | None,
    client_address: str | None,
) -> NewRegistration:
    """Register with a RegistrationCreate's fields (the API's and the form's); an idempotency
    key counts for the client's address only."""
    return register(
        uow,
        event_id,
        str(fields["ticket_type_id"]),
        fields["attendee"],
        Choices(
            session_ids=tuple(str(session_id) for session_id in fields.get("session_ids", ())),
            answers=fields.get("answers", {}),
            language=fields.get("language", DEFAULT_LANGUAGE),
        ),
        idempotency=(
            Idempotency(idempotency_key, client_address, uow.secret_box)
            if idempotency_key
            else None
        ),
    )


def attendee_registration(
    session: Session, registration_id: str, manage_token: str | None
) -> Registration:
    return registrations.attendee_registration(session, registration_id, manage_token)


def cancel(
    uow: UnitOfWork, registration_id: str, manage_token: str | None, now: datetime | None = None
) -> Registration:
    return uow.run(registrations.cancel, registration_id, manage_token, now)


def claim(
    uow: UnitOfWork, registration_id: str, manage_token: str | None, now: datetime | None = None
) -> Registration:
    return uow.run(registrations.claim, registration_id, manage_token, now)


def change_answers(
    uow: UnitOfWork,
    registration_id: str,
    manage_token: str | None,
    answers: dict,
    language: str | None = None,
) -> Registration:
    return uow.run(registrations.change_answers, registration_id, manage_token, answers, language)


def seats_by_registration(session: Session, registration_ids: list[str]) -> dict[str, list]:
    return registrations.seats_by_registration(session, registration_ids)


def waitlist_position(session: Session, registration: Registration) -> int | None:
    return registrations.waitlist_position(session, registration)


def answer_problems(session: Session, event_id: str, answers: dict) -> dict:
    return registrations.answer_problems(session, event_id, answers)


# --- organisers' decisions and reports --------------------------------------------------


def approve(uow: UnitOfWork, organiser: Principal, registration_id: str) -> Registration:
    return uow.run(registrations.approve, organiser, registration_id)


def reject(
    uow: UnitOfWork,
    organiser: Principal,
    registration_id: str,
    now: datetime | None = None,
    reason: str | None = None,
) -> Registration:
    return uow.run(registrations.reject, organiser, registration_id, now, reason)


def erase_attendee(
    uow: UnitOfWork, organiser: Principal, registration_id: str, now: datetime | None = None
) -> Registration:
    return uow.run(personal_data.erase_attendee, organiser, registration_id, now)


def organiser_registration(
    session: Session, organiser: Principal, registration_id: str
) -> Registration:
    return registrations.organiser_registration(session, organiser, registration_id)


def attendee_record(session: Session, organiser: Principal, registration_id: str) -> AttendeeRecord:
    return registrations.attendee_record(session, organiser, registration_id)


def cancel_for_attendee(
    uow: UnitOfWork, organiser: Principal, registration_id: str, now: datetime | None = None
) -> Registration:
    return uow.run(registrations.cancel_for_attendee, organiser, registration_id, now)


def registrations_report(
    session: Session,
    organiser: Principal,
    event_id: str,
    where: RegistrationFilter = RegistrationFilter(),  # noqa: B008 (frozen, never changed)
) -> RegistrationsReport:
    """An event's registrations, with the event as EventOut shows it."""
    report = registrations.registrations_report(session, organiser, event_id, where)
    event = report.event
    event.ticket_types, event.sessions = report.ticket_types, report.time_slots
    event.questions = report.questions
    return report


def registrations_csv(report: RegistrationsReport) -> str:
    return csv_export.registrations_csv(report)


# --- organisations and their teams -------------------------------------------------------


def create_organisation(
    uow: UnitOfWork, instance_admin: Principal, name: str, owner: dict, language: str
) -> tuple[Organisation, Invitation]:
    return uow.run(accounts.create_organisation, instance_admin, name, owner, language)


def invite_member(
    uow: UnitOfWork,
    inviter: Principal,
    email: str,
    role: str,
    event_ids: list[str] | None,
    language: str,
) -> Invitation:
    return uow.run(accounts.invite, inviter, email, role, event_ids, language)


def open_invitation(session: Session, box: SecretBox, token: str) -> Invitation:
    return accounts.open_invitation(session, box, token)


def invitation_path(box: SecretBox, invitation: Invitation) -> str:
    """The invitation's page, as its mail links to it."""
    return f"/organiser/invitations/{accounts.invitation_link_token(box, invitation)}"


def organisation_of(session: Session, invitation: Invitation) -> Organisation:
    return session.get(Organisation, invitation.organisation_id)


def accept_invitation(uow: UnitOfWork, token: str, name: str, password: str) -> TeamMember:
    return uow.run(accounts.accept_invitation, uow.secret_box, token, name, password)


def sign_in(
    uow: UnitOfWork,
    email: str,
    password: str,
    organisation_id: str | None = None,
    code: str | None = None,
) -> SignedIn | SignInRefused:
    return uow.run(accounts.sign_in, email, password, organisation_id, code)


def start_two_step(uow: UnitOfWork, member: Principal) -> str:
    return uow.run(accounts.start_two_step, member)


def confirm_two_step(uow: UnitOfWork, member: Principal, code: str) -> list[str]:
    return uow.run(accounts.confirm_two_step, member, code)


def turn_off_two_step(uow: UnitOfWork, member: Principal, code: str) -> None:
    uow.run(accounts.turn_off_two_step, member, code)


def pending_two_step(session: Session, box: SecretBox, member: Principal) -> str | None:
    return accounts.pending_two_step(session, box, member)


def uses_two_step(session: Session, member: Principal) -> bool:
    return accounts.uses_two_step(session, member)


def request_password_reset(uow: UnitOfWork, email: str, language: str) -> None:
    uow.run(accounts.request_password_reset, email, language)


def open_password_reset(session: Session, box: SecretBox, token: str) -> PasswordReset:
    return accounts.open_password_reset(session, box, token)


def reset_password(uow: UnitOfWork, token: str, password: str) -> str:
    return uow.run(accounts.reset_password, uow.secret_box, token, password)


def sign_out(uow: UnitOfWork, member: Principal) -> None:
    uow.run(accounts.sign_out, member)


def sign_out_everywhere(uow: UnitOfWork, member: Principal) -> None:
    uow.run(accounts.sign_out_everywhere, member)


def create_personal_token(uow: UnitOfWork, member: Principal, name: str) -> NewPersonalToken:
    return uow.run(accounts.create_personal_token, member, name)


def personal_tokens(session: Session, member: Principal) -> list[PersonalToken]:
    return accounts.personal_tokens(session, member)


def record_token_use(tx: Transaction, token_id: str, used_at: datetime) -> None:
    accounts.record_token_use(tx, token_id, used_at)


def personal_token_used(tx: Transaction, principal: Principal) -> None:
    """A request here was admitted with the token: registration keeps its tokens, so it
    writes the use down rather than announcing it."""
    accounts.record_token_use(tx, principal.subject, datetime.now(UTC))


def revoke_personal_token(uow: UnitOfWork, member: Principal, token_id: str) -> None:
    uow.run(accounts.revoke_personal_token, member, token_id)


def team(session: Session, principal: Principal) -> list[TeamMember]:
    return accounts.team(session, principal)


def change_member(
    uow: UnitOfWork,
    principal: Principal,
    member_id: str,
    role: str,
    event_ids: list[str] | None = None,
    limit_events: bool = False,
) -> TeamMember:
    return uow.run(accounts.change_member, principal, member_id, role, event_ids, limit_events)


def remove_member(uow: UnitOfWork, principal: Principal, member_id: str) -> None:
    uow.run(accounts.remove_member, principal, member_id)


# --- organisers signed in to the organiser pages ----------------------------------------

ORGANISER_SESSION_SECONDS = int(organiser_sessions.LIFETIME.total_seconds())


def start_organiser_session(uow: UnitOfWork, organiser_token: str) -> str | None:
    """A new session id for the organiser token, or None if it is no organiser's."""
    return uow.run(organiser_sessions.start, organiser_token)


SIGN_IN_SECONDS = int(accounts.SIGN_IN_LIFETIME.total_seconds())


def signed_in_organiser(session: Session, session_id: str) -> Principal | None:
    """Who the organiser pages' cookie stands for: a member's access token (shared/identity.py),
    or the session the bootstrap token started (organiser_sessions.py)."""
    if is_access_token(session_id):
        return read_access_token(session, tables.identity, session_id)
    return organiser_sessions.organiser(session, session_id)


def end_organiser_session(uow: UnitOfWork, session_id: str) -> None:
    if is_access_token(session_id):
        uow.run(accounts.sign_out_token, session_id)
    else:
        uow.run(organiser_sessions.end, session_id)


# --- what the bus and the clock bring -----------------------------------------------------


def record_arrival(tx: Transaction, registration_id: str, scanned_at: datetime) -> None:
    registrations.record_arrival(tx, registration_id, scanned_at)


def lapse_waitlist_offers(uow: UnitOfWork, now: datetime | None = None) -> int:
    return uow.run(places.expire_offers, now)


def erase_after_retention(uow: UnitOfWork, now: datetime | None = None) -> list[str]:
    return uow.run(personal_data.erase_after_retention, now)


def publish_identity_key(uow: UnitOfWork) -> str:
    return uow.run(accounts.publish_identity_key)


def forget_expired_idempotency_keys(uow: UnitOfWork, now: datetime | None = None) -> int:
    return uow.run(idempotency.forget_expired, now)
