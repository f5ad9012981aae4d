from flask import Response, request

from services.ticketing import schemas, service
from shared.auth import MANAGE, READ
from shared.http import Blueprint, current_principal, current_runtime, manage_token, require

blp = Blueprint("ticketing", __name__, description="Tickets, QR codes and signing keys")

BEARER = [{"bearer": []}]
# A ticket's images never change (a new token is a new ticket), so a phone or a mail
# client that has one never needs to ask again.
IMAGE_CACHING = "private, max-age=31536000, immutable"


@blp.route("/registrations/<uuid:registration_id>/ticket")
@blp.arguments(schemas.ManageTokenQuery, location="query")
@blp.response(200, schemas.TicketOut)
def get_ticket(query, registration_id):
    """The current ticket of a registration, opened with the registration's manage token."""
    with current_runtime().session_factory() as session:
        return service.attendee_ticket(session, str(registration_id), manage_token())


@blp.route("/tickets/<uuid:ticket_id>/qr.png")
@blp.arguments(schemas.ImageKeyQuery, location="query")
@blp.response(200, content_type="image/png")
def ticket_png(query, ticket_id):
    """The ticket's QR code as PNG; the URL carries its own key, usable as <img src>."""
    images = service.images_by_key(current_runtime().unit_of_work(), str(ticket_id), query["key"])
    return _image(images.png, "image/png", ticket_id)


@blp.route("/tickets/<uuid:ticket_id>/qr.svg")
@blp.arguments(schemas.ImageKeyQuery, location="query")
@blp.response(200, content_type="image/svg+xml")
def ticket_svg(query, ticket_id):
    """The ticket's QR code as SVG."""
    images = service.images_by_key(current_runtime().unit_of_work(), str(ticket_id), query["key"])
    return _image(images.svg, "image/svg+xml", ticket_id)


@blp.route("/keys")
@require(READ)
@blp.response(200, schemas.SigningKeysOut)
@blp.doc(security=BEARER)
def list_organisation_keys():
    """The public keys of the organisation's events, each with its event and, once retired,
    since when it no longer verifies tickets (organiser). A door device gets its event's keys
    in its offline bundle."""
    with current_runtime().session_factory() as session:
        return service.organisation_signing_keys(session, current_principal())


@blp.route("/events/<uuid:event_id>/keys", methods=["GET"])
@require(READ)
@blp.response(200, schemas.SigningKeysOut)
@blp.doc(security=BEARER)
def list_event_keys(event_id):
    """The event's signing keys, retired ones included; the newest unretired one signs new
    tickets (organiser)."""
    with current_runtime().session_factory() as session:
        return service.event_signing_keys(session, current_principal(), str(event_id))


@blp.route("/events/<uuid:event_id>/keys", methods=["POST"])
@require(MANAGE)
@blp.response(201, schemas.SigningKeyOut)
@blp.doc(security=BEARER)
def rotate_key(event_id):
    """Rotate: a new key signs the event's tickets from now on; tickets signed before keep
    verifying until their key is retired (organiser)."""
    runtime = current_runtime()
    return service.rotate_signing_key(runtime.unit_of_work(), current_principal(), str(event_id))


@blp.route("/events/<uuid:event_id>/keys/<key_id>/retire", methods=["POST"])
@require(MANAGE)
@blp.response(200, schemas.RetiredKeyOut)
@blp.alt_response(409, description="The key is already retired")
@blp.doc(security=BEARER)
def retire_key(event_id, key_id):
    """Retire a key: it stops verifying, and every valid ticket it signed is reissued under
    the current key and mailed again (organiser)."""
    runtime = current_runtime()
    return service.retire_signing_key(
        runtime.unit_of_work(), current_principal(), str(event_id), key_id
    )


@blp.route("/events/<uuid:event_id>/tickets")
@require(READ)
@blp.arguments(schemas.EventTicketsQuery, location="query")
@blp.response(200, schemas.IssuedTicketsOut)
@blp.doc(security=BEARER)
def list_event_tickets(query, event_id):
    """The event's tickets, revoked ones included, oldest first (organiser)."""
    registration_id = query.get("registration_id")
    with current_runtime().session_factory() as session:
        return service.event_tickets(
            session,
            current_principal(),
            str(event_id),
            str(registration_id) if registration_id else None,
        )


@blp.route("/tickets/<uuid:ticket_id>/reissue", methods=["POST"])
@require(MANAGE)
@blp.response(201, schemas.IssuedTicketOut)
@blp.alt_response(409, description="The ticket is already revoked")
@blp.doc(security=BEARER)
def reissue_ticket(ticket_id):
    """Reissue a valid ticket, e.g. for a lost phone: a new ticket with a new token is mailed
    to the attendee and the old one is revoked (organiser)."""
    runtime = current_runtime()
    return service.reissue_ticket(runtime.unit_of_work(), current_principal(), str(ticket_id))


def _image(content: bytes, mimetype: str, ticket_id) -> Response:
    response = Response(content, mimetype=mimetype, headers={"Cache-Control": IMAGE_CACHING})
    response.set_etag(str(ticket_id))
    return response.make_conditional(request)
