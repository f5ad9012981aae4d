from flask import url_for
from marshmallow import Schema, fields, missing, pre_dump, validate

from services.ticketing.ticket_secrets import url_key
from shared.http import current_runtime
from shared.schemas import Instant


class ManageTokenQuery(Schema):
    token = fields.String(metadata={"description": "The registration's manage token"})


class ImageKeyQuery(Schema):
    # A missing key answers 404 like a wrong one: the URL simply does not exist.
    key = fields.String(load_default=None, metadata={"description": "The image's unguessable key"})


def _language() -> fields.String:
    return fields.String(
        validate=validate.Length(max=35),
        metadata={"description": "en, zh_Hant_HK or zh_Hans_CN; remembered for later pages"},
    )


class TicketPageByTokenQuery(ManageTokenQuery):
    lang = _language()


class TicketPageByKeyQuery(ImageKeyQuery):
    lang = _language()


class EventTicketsQuery(Schema):
    registration_id = fields.UUID(metadata={"description": "Only this registration's tickets"})


class _Listing(Schema):
    """An answer that is one list under one name ({"keys": [...]}), an object so that it can
    grow: the route returns the list, and the schema puts it under its one field."""

    @pre_dump
    def _under_its_name(self, items, **kwargs):
        (name,) = self.dump_fields
        return {name: items}


class _ImageUrl(fields.String):
    """The URL of one of a ticket's QR images. It carries the ticket's own key, so it works
    as an <img src> with no Authorization header."""

    def __init__(self, endpoint: str, **kwargs):
        super().__init__(**kwargs)
        self.endpoint = endpoint

    def get_value(self, ticket, attr, accessor=None, default=missing):
        key = url_key(current_runtime().secret_box, ticket.id)
        return url_for(self.endpoint, ticket_id=ticket.id, key=key)


class _TicketSummary(Schema):
    """What the attendee and the organiser both see of a ticket."""

    id = fields.String()
    registration_id = fields.String()
    event_id = fields.String()
    ticket_type_id = fields.String()
    attendee_name = fields.String()
    status = fields.String(metadata={"enum": ["valid", "revoked"]})


class TicketOut(_TicketSummary):
    payload = fields.String(metadata={"description": "The signed token the QR code holds"})
    valid_from = Instant()
    valid_until = Instant()
    qr_png_url = _ImageUrl("ticketing.ticket_png")
    qr_svg_url = _ImageUrl("ticketing.ticket_svg")


class IssuedTicketOut(_TicketSummary):
    """A ticket as its organiser sees it: no token, no image key."""

    revoked_reason = fields.String(
        allow_none=True, metadata={"enum": ["cancelled", "reissued", "key_retired", None]}
    )
    key_id = fields.String(metadata={"description": "The key that signed it"})
    issued_at = Instant()
    revoked_at = Instant(allow_none=True)


class IssuedTicketsOut(_Listing):
    tickets = fields.List(fields.Nested(IssuedTicketOut))


class SigningKeyOut(Schema):
    """A signing key's public half; its private half never leaves ticketing."""

    key_id = fields.String()
    event_id = fields.String(metadata={"description": "The event whose tickets it signs"})
    algorithm = fields.Constant("Ed25519")
    public_key = fields.String(metadata={"description": "Raw 32-byte key, base64"})
    created_at = Instant()
    retired_at = Instant(
        allow_none=True, metadata={"description": "Since when it no longer verifies tickets"}
    )


class SigningKeysOut(_Listing):
    keys = fields.List(fields.Nested(SigningKeyOut))


class RetiredKeyOut(Schema):
    key = fields.Nested(SigningKeyOut)
    reissued_tickets = fields.Integer(
        metadata={"description": "Valid tickets it had signed, each reissued and mailed again"}
    )
