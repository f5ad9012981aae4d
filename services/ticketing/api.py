from functools import lru_cache

from flask import Response, url_for
from flask_smorest import Blueprint

from services.ticketing import qr_codes, schemas, service
from shared.http import current_runtime, manage_token

blp = Blueprint("ticketing", __name__, description="Tickets, QR codes and public keys")

# Ticket images are viewed again and again at the gate; a token's image never changes.
render_png = lru_cache(maxsize=4096)(qr_codes.render_png)
render_svg = lru_cache(maxsize=4096)(qr_codes.render_svg)


@blp.route("/registrations/<uuid:registration_id>/ticket")
@blp.arguments(schemas.ManageTokenQuery, location="query")
@blp.response(200, schemas.TicketOut)
def get_ticket(query, registration_id):
    """The ticket of a registration, opened with the registration's manage token."""
    with current_runtime().session_factory() as session:
        ticket = service.attendee_ticket(session, str(registration_id), manage_token())
    ticket.qr_png_url = url_for(
        "ticketing.ticket_png", ticket_id=ticket.id, key=ticket.qr_secret, _external=False
    )
    ticket.qr_svg_url = url_for("ticketing.ticket_svg", ticket_id=ticket.id, key=ticket.qr_secret)
    return ticket


@blp.route("/tickets/<uuid:ticket_id>/qr.png")
@blp.arguments(schemas.ImageKeyQuery, location="query")
@blp.response(200, content_type="image/png")
def ticket_png(query, ticket_id):
    """The ticket's QR code as PNG; the URL carries its own key, usable as <img src>."""
    return _image(ticket_id, query["key"], render_png, "image/png")


@blp.route("/tickets/<uuid:ticket_id>/qr.svg")
@blp.arguments(schemas.ImageKeyQuery, location="query")
@blp.response(200, content_type="image/svg+xml")
def ticket_svg(query, ticket_id):
    """The ticket's QR code as SVG."""
    return _image(ticket_id, query["key"], render_svg, "image/svg+xml")


@blp.route("/keys")
@blp.response(200, schemas.PublicKeysOut)
def list_public_keys():
    """The public keys that verify ticket signatures, for door devices working offline."""
    with current_runtime().session_factory() as session:
        return {"keys": service.public_keys(session)}


def _image(ticket_id, key: str, render, mimetype: str) -> Response:
    with current_runtime().session_factory() as session:
        ticket = service.ticket_for_image(session, str(ticket_id), key)
    return Response(
        render(ticket.payload),
        mimetype=mimetype,
        headers={"Cache-Control": "private, max-age=86400"},
    )
