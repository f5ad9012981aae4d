from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.checkin.lists import REENTRY_POLICIES
from services.checkin.live_stream import MAX_STREAM_SECONDS
from services.checkin.scan_records import DIRECTIONS, IN, Verdict
from shared.schemas import Instant, StrictSchema, Text, TrimmedString

MAX_BATCH_SCANS = 10_000


def _scan_id():
    # Trimmed: " door-1-0001" and "door-1-0001" are one scan sent twice.
    return TrimmedString(
        required=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "Made by the client; a retried upload is counted once"},
    )


def _payload(**kwargs):
    return fields.String(
        validate=validate.Length(max=1000),
        metadata={"description": "The scanned code, e.g. LG1:..."},
        **kwargs,
    )


def _direction():
    return fields.String(
        load_default=IN,
        validate=validate.OneOf(DIRECTIONS),
        metadata={"description": "in, or out for an exit scan"},
    )


class ScanIn(StrictSchema):
    payload = _payload(required=True)
    list_id = fields.UUID(load_default=None)
    scan_id = _scan_id()
    scanned_at = Instant(load_default=None)
    direction = _direction()


class ManualScanIn(StrictSchema):
    ticket_id = fields.UUID(required=True, metadata={"description": "From a ticket search"})
    list_id = fields.UUID(load_default=None)
    scan_id = _scan_id()
    scanned_at = Instant(load_default=None)
    direction = _direction()


class BatchScanIn(StrictSchema):
    """A scan made offline: a scanned code or, for a manual check-in, a ticket id."""

    payload = _payload(load_default=None)
    ticket_id = fields.UUID(load_default=None)
    list_id = fields.UUID(load_default=None)
    scan_id = _scan_id()
    scanned_at = Instant(required=True)
    direction = _direction()

    @validates_schema
    def _one_of_payload_or_ticket(self, data, **kwargs):
        if (data.get("payload") is None) == (data.get("ticket_id") is None):
            raise ValidationError("Give exactly one of payload and ticket_id.", "payload")


class BatchIn(StrictSchema):
    scans = fields.List(
        fields.Nested(BatchScanIn),
        required=True,
        validate=validate.Length(min=1, max=MAX_BATCH_SCANS),
    )


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
    scan_id = fields.String()


class EntryWindow(Schema):
    opens_at = fields.String()
    closes_at = fields.String()


class ScanResult(Schema):
    scan_id = fields.String()
    verdict = fields.String(metadata={"enum": [verdict.value for verdict in Verdict]})
    list_id = fields.String()
    ticket = fields.Nested(ScannedTicket)
    previous = fields.Nested(
        PreviousAdmission,
        metadata={"description": "already_checked_in: the admission that came first"},
    )
    window = fields.Nested(
        EntryWindow, metadata={"description": "not_yet_valid / expired: when it admits"}
    )
    was_inside = fields.Boolean(metadata={"description": "Exit scans: whether it was inside"})
    displaced = fields.Nested(
        PreviousAdmission,
        metadata={
            "description": "Offline batches: the later admission this earlier scan took over"
        },
    )


class BatchOut(Schema):
    results = fields.List(fields.Nested(ScanResult))


class ListIn(StrictSchema):
    name = Text(120, required=True)
    ticket_type_ids = fields.List(
        fields.UUID(),
        allow_none=True,
        metadata={"description": "The ticket types admitted; null or absent admits all"},
    )
    session_id = Text(64, allow_none=True)
    opens_at = Instant(allow_none=True)
    closes_at = Instant(allow_none=True)
    reentry = fields.String(
        validate=validate.OneOf(REENTRY_POLICIES),
        metadata={
            "description": "once (default); daily: once per day in the event's time zone; "
            "unlimited: in again after an exit scan"
        },
    )


class ListChanges(ListIn):
    """Only the fields given change."""

    name = TrimmedString(validate=validate.Length(min=1, max=120))


class CheckinListOut(Schema):
    id = fields.String()
    event_id = fields.String()
    name = fields.String()
    ticket_type_ids = fields.List(fields.String(), allow_none=True)
    is_default = fields.Boolean()
    session_id = fields.String(allow_none=True)
    opens_at = fields.DateTime(allow_none=True)
    closes_at = fields.DateTime(allow_none=True)
    reentry = fields.String(metadata={"enum": list(REENTRY_POLICIES)})
    timezone = fields.String(metadata={"description": "The event's; days are counted in it"})


class InstantText(fields.String):
    """A moment dumped as ISO 8601 text and documented as the text it is: the scans' stored
    answers, which PreviousAdmission dumps, hold their moments as that text already."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else value.isoformat()


class AdmissionOut(Schema):
    """An admission of the roster (scan_records.Entry)."""

    scanned_at = InstantText(attribute="admitted_at")
    list_id = fields.String()
    gate = fields.String()
    scan_id = fields.String()
    exited_at = InstantText(allow_none=True)


class RosterTicketOut(ScannedTicket):
    status = fields.String(metadata={"enum": ["valid", "revoked"]})
    admissions = fields.List(fields.Nested(AdmissionOut))


class SearchArgs(StrictSchema):
    q = Text(
        100,
        required=True,
        metadata={"description": "Part of a name, a whole email, or the start of a code"},
    )


class PublicKeyOut(Schema):
    key_id = fields.String()
    event_id = fields.String(metadata={"description": "It verifies this event's tickets only"})
    public_key = fields.String(
        allow_none=True, metadata={"description": "Raw Ed25519 public key, base64"}
    )
    retired_at = fields.DateTime(
        allow_none=True, metadata={"description": "Set: every code it signed is invalid"}
    )


class BundleAdmission(AdmissionOut):
    entry_key = fields.String()


class BundleTicket(ScannedTicket):
    valid_from = fields.DateTime()
    valid_until = fields.DateTime()
    admissions = fields.List(fields.Nested(BundleAdmission))


class BundleOut(Schema):
    keys = fields.List(fields.Nested(PublicKeyOut))
    tickets = fields.List(fields.Nested(BundleTicket))
    revoked = fields.List(fields.String())
    lists = fields.List(fields.Nested(CheckinListOut))
    texts = fields.Dict(
        metadata={
            "description": "The event's title and ticket type names per language given: "
            '{"title": {locale: title}, "ticket_types": {id: {locale: name}}}'
        }
    )


class PairingCodeOut(Schema):
    code = fields.String(metadata={"description": "Shown once; single use"})
    expires_at = fields.DateTime()
    event_id = fields.String()
    list_id = fields.String()


class RedeemIn(StrictSchema):
    code = Text(20, required=True)
    device_name = Text(80, load_default="Door device")


class PairedDeviceOut(Schema):
    token = fields.String(metadata={"description": "The device's staff bearer token"})
    device_id = fields.String()
    event_id = fields.String()
    event_title = fields.String()
    event_texts = fields.Dict(metadata={"description": "As the bundle's texts"})
    list_id = fields.String()
    list_name = fields.String()


class DeviceOut(Schema):
    id = fields.String()
    name = fields.String()
    event_id = fields.String()
    list_id = fields.String()
    paired_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)


class CountOnList(Schema):
    id = fields.String()
    name = fields.String()
    checked_in = fields.Integer()
    inside = fields.Integer()


class CountOfTicketType(CountOnList):
    tickets = fields.Integer()


class ArrivalsBucket(Schema):
    starts_at = fields.DateTime()
    count = fields.Integer()


class StatsOut(Schema):
    event_id = fields.String()
    title = fields.String()
    timezone = fields.String()
    tickets = fields.Integer(metadata={"description": "Valid tickets in the roster"})
    checked_in = fields.Integer(metadata={"description": "Tickets admitted at least once"})
    inside = fields.Integer(metadata={"description": "Tickets admitted and not out since"})
    scans = fields.Dict(keys=fields.String(), values=fields.Integer())
    lists = fields.List(fields.Nested(CountOnList))
    ticket_types = fields.List(fields.Nested(CountOfTicketType))
    arrivals = fields.List(fields.Nested(ArrivalsBucket))


class LiveArgs(StrictSchema):
    max_seconds = fields.Float(
        load_default=MAX_STREAM_SECONDS,
        validate=validate.Range(min=1, max=MAX_STREAM_SECONDS),
        metadata={"description": "End the stream sooner (the browser reconnects)"},
    )
