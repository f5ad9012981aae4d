from marshmallow import Schema, fields, validate

from shared.schemas import StrictSchema, Text, validate_timezone


class EventCreate(StrictSchema):
    title = Text(200, required=True)
    starts_at = fields.AwareDateTime(required=True)
    ends_at = fields.AwareDateTime(required=True)
    description = Text(5000)
    venue = Text(200)
    timezone = fields.String(validate=validate_timezone)
    early_entry_minutes = fields.Integer(validate=validate.Range(min=0, max=24 * 60))


class TicketTypeCreate(StrictSchema):
    name = Text(120, required=True)
    quota = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=10**6))


class TicketTypeOut(Schema):
    id = fields.String()
    name = fields.String()
    quota = fields.Integer()
    confirmed = fields.Integer(attribute="confirmed_count")
    remaining = fields.Method("_remaining")

    def _remaining(self, ticket_type) -> int:
        return max(ticket_type.quota - ticket_type.confirmed_count, 0)


class EventOut(Schema):
    id = fields.String()
    title = fields.String()
    description = fields.String()
    venue = fields.String()
    timezone = fields.String()
    starts_at = fields.AwareDateTime()
    ends_at = fields.AwareDateTime()
    early_entry_minutes = fields.Integer()
    status = fields.String()
    ticket_types = fields.List(fields.Nested(TicketTypeOut))


class AttendeeIn(StrictSchema):
    name = Text(200, required=True)
    email = fields.Email(required=True, validate=validate.Length(max=320))


class RegistrationCreate(StrictSchema):
    ticket_type_id = fields.UUID(required=True)
    attendee = fields.Nested(AttendeeIn, required=True)


class IdempotencyHeader(Schema):
    idempotency_key = fields.String(
        data_key="Idempotency-Key", validate=validate.Length(min=1, max=200)
    )


class ManageTokenQuery(Schema):
    token = fields.String(metadata={"description": "The registration's manage token"})


class AttendeeOut(Schema):
    name = fields.String(attribute="attendee_name")
    email = fields.String(attribute="attendee_email")


class RegistrationOut(Schema):
    id = fields.String()
    event_id = fields.String()
    ticket_type_id = fields.String()
    status = fields.String(
        metadata={"enum": ["confirmed", "waitlisted", "pending_approval", "cancelled"]}
    )
    attendee = fields.Function(lambda registration: AttendeeOut().dump(registration))
    created_at = fields.AwareDateTime()


class RegistrationCreated(RegistrationOut):
    manage_token = fields.String(
        metadata={"description": "Private: opens this registration and its ticket"}
    )
