"""The events on the bus: the envelope and one schema per event type.

Producers validate before writing to the outbox and consumers validate on receipt, so a
message that breaks the contract is caught at the edge, not deep inside a handler.
"""

import uuid
from datetime import UTC, datetime
from functools import cache

from marshmallow import Schema, ValidationError, fields, validate

ENVELOPE_VERSION = 1


class _Data(Schema):
    class Meta:
        # Consumers ignore fields added by a newer producer; producers still may not send
        # unknown fields (checked in make_envelope), so the contract only grows on purpose.
        unknown = "exclude"


def _per_language(texts: type[Schema]) -> fields.Dict:
    """An organiser's texts by language ({"zh_Hant_HK": {...}}). Optional: an event from a
    producer that predates them loads with none, and consumers show the default text."""
    return fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=35)),
        values=fields.Nested(texts),
        load_default=dict,
        dump_default=dict,
    )


class TicketTypeTexts(_Data):
    name = fields.String()


class TicketTypeSummary(_Data):
    id = fields.UUID(required=True)
    name = fields.String(required=True)
    translations = _per_language(TicketTypeTexts)


class EventTexts(_Data):
    title = fields.String()
    venue = fields.String()


class EventChanged(_Data):
    event_id = fields.UUID(required=True)
    organisation_id = fields.String(required=True)
    title = fields.String(required=True)
    starts_at = fields.AwareDateTime(required=True)
    ends_at = fields.AwareDateTime(required=True)
    timezone = fields.String(required=True)
    venue = fields.String(load_default="", dump_default="")
    translations = _per_language(EventTexts)
    early_entry_minutes = fields.Integer(required=True, validate=validate.Range(min=0))
    # "unpublished": hidden from the public and closed to new registrations, may come back.
    status = fields.String(
        required=True, validate=validate.OneOf(["published", "unpublished", "cancelled"])
    )
    ticket_types = fields.List(fields.Nested(TicketTypeSummary), required=True)


class Attendee(_Data):
    name = fields.String(required=True)
    email = fields.Email(required=True)
    # The language the attendee registered in (a locale such as zh_Hant_HK, or a browser
    # language tag); ticketing writes their ticket mail in it. Optional: English without it.
    locale = fields.String(validate=validate.Length(max=35))


class RegistrationConfirmed(_Data):
    registration_id = fields.UUID(required=True)
    event_id = fields.UUID(required=True)
    ticket_type_id = fields.UUID(required=True)
    attendee = fields.Nested(Attendee, required=True)
    manage_token_sha256 = fields.String(required=True, validate=validate.Length(equal=64))


class RegistrationWaitlisted(_Data):
    registration_id = fields.UUID(required=True)
    event_id = fields.UUID(required=True)
    ticket_type_id = fields.UUID(required=True)


class RegistrationCancelled(_Data):
    registration_id = fields.UUID(required=True)
    event_id = fields.UUID(required=True)
    ticket_type_id = fields.UUID(required=True)
    previous_status = fields.String(required=True)
    reason = fields.String(
        validate=validate.OneOf(
            [
                "cancelled_by_attendee",
                "cancelled_by_organiser",
                "rejected",
                "offer_expired",
                "event_cancelled",
            ]
        )
    )


class RegistrationErased(_Data):
    """An attendee's personal data erased at registration (on request, or after the event's
    retention period): every service blanks its copies of their name and email."""

    registration_id = fields.UUID(required=True)
    event_id = fields.UUID(required=True)


# What stands in for an erased attendee's name, in every service.
ERASED_NAME = "[erased]"


class RegistrationPromoted(_Data):
    registration_id = fields.UUID(required=True)
    event_id = fields.UUID(required=True)
    ticket_type_id = fields.UUID(required=True)


class SigningKeyData(_Data):
    key_id = fields.String(required=True)
    public_key = fields.String(required=True)


class TicketIssued(_Data):
    ticket_id = fields.UUID(required=True)
    registration_id = fields.UUID(required=True)
    event_id = fields.UUID(required=True)
    ticket_type_id = fields.UUID(required=True)
    attendee_name = fields.String(required=True)
    # Optional, so producers that predate it stay within the contract; check-in searches it.
    attendee_email = fields.Email(allow_none=True)
    valid_from = fields.AwareDateTime(required=True)
    valid_until = fields.AwareDateTime(required=True)
    signing_key = fields.Nested(SigningKeyData, required=True)
    # Optional, like attendee_email: the SHA-256 of the ticket's token, by which the door
    # recognises that very token without checking its signature again.
    token_sha256 = fields.String(allow_none=True, validate=validate.Regexp("^[0-9a-f]{64}$"))


class TicketRevoked(_Data):
    ticket_id = fields.UUID(required=True)
    registration_id = fields.UUID(required=True)
    event_id = fields.UUID(required=True)
    reason = fields.String(required=True)


class SigningKeyRetired(_Data):
    """An organiser stopped trusting one of an event's signing keys: from now on every door
    answers `invalid` for a token it signed (its valid tickets were reissued under another
    key, each announced by ticket.revoked and ticket.issued)."""

    key_id = fields.String(required=True, validate=validate.Regexp("^[0-9a-f]{8}$"))
    event_id = fields.UUID(required=True)
    retired_at = fields.AwareDateTime(required=True)


class CheckinRecorded(_Data):
    scan_id = fields.String(required=True)
    ticket_id = fields.UUID(required=True)
    registration_id = fields.UUID(required=True)
    event_id = fields.UUID(required=True)
    list_id = fields.UUID(required=True)
    verdict = fields.String(required=True)
    direction = fields.String(required=True, validate=validate.OneOf(["in", "out"]))
    scanned_at = fields.AwareDateTime(required=True)


class IdentityKeyPublished(_Data):
    """Registration's public key for the access tokens it signs (shared/identity.py)."""

    key_id = fields.String(required=True, validate=validate.Length(min=1, max=32))
    public_key = fields.String(required=True, validate=validate.Length(min=1, max=100))


class MemberChanged(_Data):
    """A membership as it now stands: every service applies it to the tokens it accepts."""

    member_id = fields.UUID(required=True)
    organisation_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    role = fields.String(
        required=True, validate=validate.OneOf(["owner", "manager", "door", "viewer"])
    )
    # The events the member is limited to; null: all of the organisation's.
    event_ids = fields.List(fields.UUID(), allow_none=True, load_default=None)
    removed = fields.Boolean(required=True)
    # Sign-in tokens issued up to this moment are refused ("sign out everywhere").
    signed_out_at = fields.AwareDateTime(allow_none=True, load_default=None)
    version = fields.Integer(required=True, validate=validate.Range(min=1))


class AccessTokenRevoked(_Data):
    token_id = fields.String(required=True, validate=validate.Length(min=1, max=32))
    member_id = fields.UUID(required=True)


class AccessTokenUsed(_Data):
    """A personal API token was used (at most once a minute per token and process)."""

    token_id = fields.String(required=True, validate=validate.Length(min=1, max=32))
    member_id = fields.UUID(required=True)
    used_at = fields.AwareDateTime(required=True)


EVENT_SCHEMAS: dict[str, type[Schema]] = {
    "event.published": EventChanged,
    "event.updated": EventChanged,
    "registration.confirmed": RegistrationConfirmed,
    "registration.waitlisted": RegistrationWaitlisted,
    "registration.cancelled": RegistrationCancelled,
    "registration.promoted": RegistrationPromoted,
    "registration.erased": RegistrationErased,
    "ticket.issued": TicketIssued,
    "ticket.revoked": TicketRevoked,
    "signing_key.retired": SigningKeyRetired,
    "checkin.recorded": CheckinRecorded,
    "identity.key_published": IdentityKeyPublished,
    "member.changed": MemberChanged,
    "access_token.revoked": AccessTokenRevoked,
    "access_token.used": AccessTokenUsed,
}


class Envelope(Schema):
    id = fields.UUID(required=True)
    type = fields.String(required=True, validate=validate.OneOf(list(EVENT_SCHEMAS)))
    version = fields.Integer(required=True, validate=validate.Equal(ENVELOPE_VERSION))
    occurred_at = fields.AwareDateTime(required=True)
    source = fields.String(required=True)
    correlation_id = fields.String(required=True, allow_none=True)
    data = fields.Dict(required=True)


class ContractError(ValueError):
    """A message that does not match the event contract; retrying it cannot help."""


def make_envelope(event_type: str, data: dict, source: str, correlation_id: str | None) -> dict:
    """Serialise `data` into a checked, JSON-ready envelope."""
    schema = _schema(event_type)
    unknown = _unknown_fields(schema, data)
    try:
        serialised = schema.dump(data)
    except (TypeError, ValueError, AttributeError) as error:
        raise ContractError(f"{event_type}: {error}") from None
    errors = schema.validate(serialised)
    if unknown or errors:
        raise ContractError(f"{event_type}: unknown fields {unknown}; errors {errors}")
    return {
        "id": str(uuid.uuid4()),
        "type": event_type,
        "version": ENVELOPE_VERSION,
        "occurred_at": datetime.now(UTC).isoformat(),
        "source": source,
        "correlation_id": correlation_id,
        "data": serialised,
    }


def read_envelope(message: dict) -> tuple[dict, dict]:
    """Check an incoming envelope; return it with its data loaded into Python values."""
    try:
        envelope = Envelope().load(message)
        data = _schema(envelope["type"]).load(envelope["data"])
    except ValidationError as error:
        raise ContractError(str(error.messages)) from None
    return envelope, data


def _unknown_fields(schema: Schema, data, path: str = "") -> list[str]:
    """Fields in `data` the schema does not know, nested objects and lists included (dump
    would silently drop them, and the producer would never learn)."""
    if not isinstance(data, dict):
        return []
    unknown = [f"{path}{name}" for name in data if name not in schema.fields]
    for name, field in schema.fields.items():
        value = data.get(name)
        inner = field.inner if isinstance(field, fields.List) else field
        if isinstance(inner, fields.Nested) and value is not None:
            items = value if isinstance(field, fields.List) else [value]
            for item in items:
                unknown += _unknown_fields(inner.schema, item, f"{path}{name}.")
    return unknown


@cache
def _schema(event_type: str) -> Schema:
    # Building a marshmallow schema costs more than using it; schemas keep no per-call state.
    try:
        return EVENT_SCHEMAS[event_type]()
    except KeyError:
        raise ContractError(f"unknown event type {event_type!r}") from None
