from marshmallow import Schema, ValidationError, fields, validate

from services.registration import attendees
from services.registration.models import CATEGORIES, KINDS, REJECTION_REASON_LENGTH, STATUSES
from services.registration.wording import LANGUAGES
from shared.auth import MEMBER_ROLES
from shared.schemas import Instant, StrictSchema, Text, TrimmedString, validate_timezone

TEXT_ANSWER_LIMIT = 2000
MINUTES_IN_30_DAYS = 30 * 24 * 60


def _required_text(max_length: int) -> TrimmedString:
    """Text that may be left out of a change, but not emptied."""
    return TrimmedString(validate=validate.Length(min=1, max=max_length))


def _per_language(translated: type[Schema]) -> fields.Dict:
    return fields.Dict(
        keys=fields.String(validate=validate.OneOf(LANGUAGES)),
        values=fields.Nested(translated),
        metadata={"description": f"By language: {', '.join(LANGUAGES)}"},
    )


def _optional_count(minimum: int, maximum: int, description: str) -> fields.Integer:
    """A whole number the organiser may also unset (null)."""
    return fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(min=minimum, max=maximum),
        metadata={"description": description},
    )


# --- events ---------------------------------------------------------------------------------


class EventTexts(StrictSchema):
    title = Text(200)
    description = Text(5000)
    venue = Text(200)


class EventChange(StrictSchema):
    """Every field of an event; a change sends only those it changes."""

    title = _required_text(200)
    starts_at = Instant()
    ends_at = Instant()
    description = Text(5000)
    translations = _per_language(EventTexts)
    venue = Text(200)
    timezone = fields.String(validate=validate_timezone)
    categories = fields.List(
        fields.String(validate=validate.OneOf(CATEGORIES)),
        validate=validate.Length(max=len(CATEGORIES)),
    )
    early_entry_minutes = fields.Integer(strict=True, validate=validate.Range(min=0, max=24 * 60))
    waitlist_claim_minutes = _optional_count(
        1,
        MINUTES_IN_30_DAYS,
        "Unset: a freed place goes to the next waitlisted at once. Set: it is offered, and "
        "must be claimed within this many minutes.",
    )
    retention_days = _optional_count(
        0, 3650, "Personal data is erased this many days after the event ends; unset keeps it."
    )


class EventCreate(EventChange):
    title = Text(200, required=True)
    starts_at = Instant(required=True)
    ends_at = Instant(required=True)


class TicketTypeTexts(StrictSchema):
    name = Text(120)


class TicketTypeChange(StrictSchema):
    name = _required_text(120)
    translations = _per_language(TicketTypeTexts)
    quota = fields.Integer(strict=True, validate=validate.Range(min=0, max=10**6))
    sales_opens_at = Instant(allow_none=True)
    sales_closes_at = Instant(
        allow_none=True, metadata={"description": "Unset: sales close when the event ends."}
    )
    per_order_limit = _optional_count(
        1,
        1000,
        "How many live registrations one email address may hold for this ticket type (one "
        "registration is one attendee's order).",
    )
    requires_approval = fields.Boolean()


class TicketTypeCreate(TicketTypeChange):
    name = Text(120, required=True)
    quota = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=10**6))


class SessionTexts(StrictSchema):
    title = Text(200)


class TimeSlotChange(StrictSchema):
    title = _required_text(200)
    translations = _per_language(SessionTexts)
    starts_at = Instant()
    ends_at = Instant()
    capacity = fields.Integer(strict=True, validate=validate.Range(min=0, max=10**6))


class TimeSlotCreate(TimeSlotChange):
    title = Text(200, required=True)
    starts_at = Instant(required=True)
    ends_at = Instant(required=True)
    capacity = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=10**6))


class QuestionTexts(StrictSchema):
    label = Text(2000)
    options = fields.List(Text(200), validate=validate.Length(max=50))


class QuestionChange(StrictSchema):
    label = _required_text(2000)
    options = fields.List(
        _required_text(200),
        validate=validate.Length(max=50),
        metadata={"description": "For choice and multiple_choice: what an answer may be."},
    )
    required = fields.Boolean()
    translations = _per_language(QuestionTexts)
    position = fields.Integer(strict=True, validate=validate.Range(min=0, max=1000))


class QuestionCreate(QuestionChange):
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    label = Text(2000, required=True)


class TicketTypeOut(Schema):
    id = fields.String()
    name = fields.String()
    translations = fields.Dict()
    quota = fields.Integer()
    confirmed = fields.Integer(attribute="confirmed_count")
    remaining = fields.Method("_remaining")
    sales_opens_at = Instant(allow_none=True)
    sales_closes_at = Instant(allow_none=True)
    per_order_limit = fields.Integer(allow_none=True)
    requires_approval = fields.Boolean()

    def _remaining(self, ticket_type) -> int:
        return max(ticket_type.quota - ticket_type.confirmed_count, 0)


class TimeSlotOut(Schema):
    id = fields.String()
    title = fields.String()
    translations = fields.Dict()
    starts_at = Instant()
    ends_at = Instant()
    capacity = fields.Integer()
    confirmed = fields.Integer(attribute="confirmed_count")
    remaining = fields.Method("_remaining")

    def _remaining(self, time_slot) -> int:
        return max(time_slot.capacity - time_slot.confirmed_count, 0)


class QuestionOut(Schema):
    id = fields.String()
    kind = fields.String(metadata={"enum": list(KINDS)})
    label = fields.String()
    options = fields.List(fields.String())
    required = fields.Boolean()
    translations = fields.Dict()
    position = fields.Integer()


class EventOut(Schema):
    id = fields.String()
    title = fields.String()
    description = fields.String()
    translations = fields.Dict()
    venue = fields.String()
    timezone = fields.String()
    categories = fields.List(fields.String())
    starts_at = Instant()
    ends_at = Instant()
    early_entry_minutes = fields.Integer()
    waitlist_claim_minutes = fields.Integer(allow_none=True)
    retention_days = fields.Integer(allow_none=True)
    status = fields.String(metadata={"enum": ["draft", "published", "unpublished", "cancelled"]})
    ticket_types = fields.List(fields.Nested(TicketTypeOut))
    sessions = fields.List(fields.Nested(TimeSlotOut))
    questions = fields.List(fields.Nested(QuestionOut))


class PublishedEventsQuery(Schema):
    category = fields.String(validate=validate.OneOf(CATEGORIES))


# --- registrations --------------------------------------------------------------------------


class AnswerValue(fields.Field):
    """An answer: text or one choice (a string), several choices (a list), yes/no (a boolean)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and len(value) <= TEXT_ANSWER_LIMIT:
            return value.strip()
        if (
            isinstance(value, list)
            and len(value) <= 50
            and all(isinstance(item, str) and len(item) <= 200 for item in value)
        ):
            return value
        raise ValidationError(
            f"Text (at most {TEXT_ANSWER_LIMIT} characters), a list of choices, or true/false."
        )


def _answers(required: bool = False) -> fields.Dict:
    return fields.Dict(
        keys=fields.String(validate=validate.Length(max=36)),
        values=AnswerValue(),
        required=required,
        validate=validate.Length(max=100),
        metadata={
            "description": "By question id: text or one option (string), options (list), "
            "yes/no (boolean)."
        },
    )


class _Accepted(fields.String):
    """Text that a rule of attendees.py accepts, as the rule returns it."""

    def __init__(self, rule, limit: int, **kwargs):
        super().__init__(validate=validate.Length(min=1, max=limit), **kwargs)
        self._rule = rule

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return self._rule(super()._deserialize(value, attr, data, **kwargs))
        except attendees.NotAcceptable as refusal:
            raise ValidationError(str(refusal)) from None


def _person_name() -> _Accepted:
    return _Accepted(
        attendees.printable_name,
        attendees.NAME_LIMIT,
        required=True,
        metadata={"description": "Printable text: no line breaks, tabs or control characters"},
    )


def _deliverable_email() -> _Accepted:
    return _Accepted(
        attendees.deliverable_email,
        attendees.EMAIL_LIMIT,
        required=True,
        metadata={
            "format": "email",
            "description": "Deliverable: no local or special-use domain, IP literal, quoted "
            "local part or %",
        },
    )


class AttendeeIn(StrictSchema):
    name = _person_name()
    email = _deliverable_email()


class AnswersIn(StrictSchema):
    answers = _answers()
    language = fields.String(
        validate=validate.OneOf(LANGUAGES),
        metadata={"description": "The language the questions were shown in (for consents)."},
    )


class RegistrationCreate(AnswersIn):
    ticket_type_id = fields.UUID(required=True)
    attendee = fields.Nested(AttendeeIn, required=True)
    session_ids = fields.List(fields.UUID(), validate=validate.Length(max=50))


class AnswersChange(AnswersIn):
    answers = _answers(required=True)


class Rejection(StrictSchema):
    reason = Text(
        REJECTION_REASON_LENGTH,
        metadata={"description": "Optional: the organiser's words to the applicant, in their mail"},
    )


class IdempotencyHeader(Schema):
    idempotency_key = fields.String(
        data_key="Idempotency-Key", validate=validate.Length(min=1, max=200)
    )


class ManageTokenQuery(Schema):
    token = fields.String(metadata={"description": "The registration's manage token"})


class RegistrationsQuery(Schema):
    status = fields.String(validate=validate.OneOf(STATUSES))
    ticket_type_id = fields.UUID()
    q = fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "Part of the attendee's name or email, any case"},
    )


class AttendeeOut(Schema):
    name = fields.String(attribute="attendee_name")
    email = fields.String(attribute="attendee_email")


_ATTENDEE = AttendeeOut()


class SeatOut(Schema):
    session_id = fields.String()
    status = fields.String(metadata={"enum": ["requested", "confirmed", "waitlisted", "cancelled"]})


class RegistrationOut(Schema):
    id = fields.String()
    event_id = fields.String()
    ticket_type_id = fields.String()
    status = fields.String(metadata={"enum": list(STATUSES)})
    attendee = fields.Function(lambda registration: _ATTENDEE.dump(registration))
    language = fields.String()
    answers = fields.Dict()
    sessions = fields.List(fields.Nested(SeatOut))
    offer_expires_at = Instant(
        allow_none=True, metadata={"description": "When status is offered: claim before this."}
    )
    checked_in_at = Instant(allow_none=True)
    erased_at = Instant(allow_none=True)
    created_at = Instant()


class RegistrationCreated(RegistrationOut):
    manage_token = fields.String(
        metadata={"description": "Private: opens this registration and its ticket"}
    )


# --- organisations and their teams ----------------------------------------------------------


class PersonIn(StrictSchema):
    name = _person_name()
    email = _deliverable_email()


class OrganisationCreate(StrictSchema):
    name = TrimmedString(required=True, validate=validate.Length(min=1, max=200))
    owner = fields.Nested(PersonIn, required=True)
    language = fields.String(
        validate=validate.OneOf(LANGUAGES),
        metadata={"description": "The language of the owner's invitation mail"},
    )


class InvitationOut(Schema):
    id = fields.String()
    email = fields.String()
    role = fields.String()
    event_ids = fields.List(fields.String(), allow_none=True)
    expires_at = fields.DateTime()


class OrganisationOut(Schema):
    id = fields.String()
    name = fields.String()
    created_at = fields.DateTime()
    owner_invitation = fields.Nested(InvitationOut)


class InvitationCreate(StrictSchema):
    email = _deliverable_email()
    role = fields.String(required=True, validate=validate.OneOf(MEMBER_ROLES))
    event_ids = fields.List(
        fields.UUID(),
        allow_none=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "Only these events (left out or null: every event)"},
    )
    language = fields.String(
        validate=validate.OneOf(LANGUAGES), metadata={"description": "The mail's language"}
    )


class InvitationAccept(StrictSchema):
    name = _person_name()
    password = fields.String(
        required=True,
        validate=validate.Length(min=10, max=200),
        metadata={"description": "10 to 200 characters; an existing account's own password"},
    )


class MemberOut(Schema):
    id = fields.String()
    email = fields.String()
    name = fields.String()
    role = fields.String()
    event_ids = fields.List(fields.String(), allow_none=True)
    joined_at = fields.DateTime()


class MemberChange(StrictSchema):
    role = fields.String(required=True, validate=validate.OneOf(MEMBER_ROLES))
    event_ids = fields.List(
        fields.UUID(),
        allow_none=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "Only these events; null: every event; left out: unchanged"},
    )


class SignIn(StrictSchema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=320))
    password = fields.String(required=True, validate=validate.Length(min=1, max=200))
    organisation_id = fields.String(
        validate=validate.Length(min=1, max=64),
        metadata={"description": "Which of your organisations (left out: the first you joined)"},
    )
    code = fields.String(
        validate=validate.Length(min=1, max=32),
        metadata={"description": "With two-step sign-in on: the app's code, or a recovery code"},
    )


class SignedInOut(Schema):
    token = fields.String(metadata={"description": "A bearer token for all three services"})
    expires_at = fields.DateTime()
    member_id = fields.String()
    organisation_id = fields.String()


class PersonalTokenCreate(StrictSchema):
    name = TrimmedString(
        required=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "What the token is for, e.g. badge printer script"},
    )


class PersonalTokenOut(Schema):
    id = fields.String()
    name = fields.String()
    created_at = fields.DateTime()
    last_used_at = fields.DateTime(
        allow_none=True,
        metadata={"description": "When a service last admitted it, to the minute; null: never"},
    )


class NewPersonalTokenOut(PersonalTokenOut):
    token = fields.String(metadata={"description": "Shown this once: keep it now"})


class PasswordResetRequest(StrictSchema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=320))
    language = fields.String(
        validate=validate.OneOf(LANGUAGES), metadata={"description": "The mail's language"}
    )


class NewPassword(StrictSchema):
    password = fields.String(
        required=True,
        validate=validate.Length(min=10, max=200),
        metadata={"description": "10 to 200 characters"},
    )
