from marshmallow import Schema, fields, validate

from services.checkin.service import VERDICTS
from shared.schemas import StrictSchema


class ScanIn(StrictSchema):
    payload = fields.String(required=True, validate=validate.Length(max=1000))
    list_id = fields.UUID(load_default=None)
    scan_id = fields.String(
        required=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "Made by the client; a retried upload is counted once"},
    )
    scanned_at = fields.AwareDateTime(load_default=None)
    direction = fields.String(load_default="in", validate=validate.OneOf(["in"]))


class ScannedTicket(Schema):
    id = fields.String()
    event_id = fields.String()
    attendee_name = fields.String()
    ticket_type_id = fields.String()
    ticket_type_name = fields.String()


class PreviousAdmission(Schema):
    scanned_at = fields.String()
    list_id = fields.String()
    gate = fields.String()


class ScanResult(Schema):
    scan_id = fields.String()
    verdict = fields.String(metadata={"enum": list(VERDICTS)})
    list_id = fields.String()
    ticket = fields.Nested(ScannedTicket)
    previous = fields.Nested(PreviousAdmission)


class CheckinListOut(Schema):
    id = fields.String()
    event_id = fields.String()
    name = fields.String()
    ticket_type_ids = fields.List(fields.String(), allow_none=True)
    is_default = fields.Boolean()


class RosterTicketOut(ScannedTicket):
    status = fields.String(metadata={"enum": ["valid", "revoked"]})
    admissions = fields.List(fields.Nested(PreviousAdmission))
