from marshmallow import Schema, fields


class ManageTokenQuery(Schema):
    token = fields.String(metadata={"description": "The registration's manage token"})


class ImageKeyQuery(Schema):
    # A missing key answers 404 like a wrong one: the URL simply does not exist.
    key = fields.String(load_default=None, metadata={"description": "The image's unguessable key"})


class TicketOut(Schema):
    id = fields.String()
    registration_id = fields.String()
    event_id = fields.String()
    ticket_type_id = fields.String()
    attendee_name = fields.String()
    status = fields.String(metadata={"enum": ["valid", "revoked"]})
    payload = fields.String(metadata={"description": "The signed token the QR code holds"})
    valid_from = fields.AwareDateTime()
    valid_until = fields.AwareDateTime()
    qr_png_url = fields.String()
    qr_svg_url = fields.String()


class PublicKeyOut(Schema):
    key_id = fields.String()
    event_id = fields.String()
    algorithm = fields.Constant("Ed25519")
    public_key = fields.String(metadata={"description": "Raw 32-byte key, base64"})
    created_at = fields.AwareDateTime()


class PublicKeysOut(Schema):
    keys = fields.List(fields.Nested(PublicKeyOut))
