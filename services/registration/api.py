from flask import Response, url_for
from flask_smorest import Blueprint

from services.registration import csv_export, schemas, service
from shared.auth import ORGANISER
from shared.http import current_principal, current_runtime, manage_token, require_role, wants_csv

blp = Blueprint("registration", __name__, description="Events, ticket types and registrations")

ORGANISER_ONLY = [{"bearer": []}]


def _event_out(session, event):
    event.ticket_types = service.ticket_types_of(session, event.id)
    return event


@blp.route("/events", methods=["POST"])
@require_role(ORGANISER)
@blp.arguments(schemas.EventCreate)
@blp.response(201, schemas.EventOut)
@blp.doc(security=ORGANISER_ONLY)
def create_event(fields):
    """Create a draft event (organiser)."""
    runtime = current_runtime()
    event = service.create_event(runtime.unit_of_work(), current_principal(), fields)
    event.ticket_types = []
    return event


@blp.route("/events", methods=["GET"])
@blp.response(200, schemas.EventOut(many=True))
def list_published_events():
    """Published events with their remaining places."""
    with current_runtime().session_factory() as session:
        return [_event_out(session, event) for event in service.published_events(session)]


@blp.route("/events/<uuid:event_id>", methods=["GET"])
@blp.response(200, schemas.EventOut)
def get_published_event(event_id):
    """One published event."""
    with current_runtime().session_factory() as session:
        return _event_out(session, service.published_event(session, str(event_id)))


@blp.route("/events/<uuid:event_id>/ticket-types", methods=["POST"])
@require_role(ORGANISER)
@blp.arguments(schemas.TicketTypeCreate)
@blp.response(201, schemas.TicketTypeOut)
@blp.doc(security=ORGANISER_ONLY)
def add_ticket_type(fields, event_id):
    """Add a ticket type with a quota (organiser)."""
    runtime = current_runtime()
    return service.add_ticket_type(
        runtime.unit_of_work(), current_principal(), str(event_id), fields
    )


@blp.route("/events/<uuid:event_id>/publish", methods=["POST"])
@require_role(ORGANISER)
@blp.response(200, schemas.EventOut)
@blp.doc(security=ORGANISER_ONLY)
def publish_event(event_id):
    """Publish an event so attendees can register (organiser)."""
    runtime = current_runtime()
    event = service.publish_event(runtime.unit_of_work(), current_principal(), str(event_id))
    with runtime.session_factory() as session:
        return _event_out(session, event)


@blp.route("/events/<uuid:event_id>/registrations", methods=["POST"])
@blp.arguments(schemas.RegistrationCreate)
@blp.arguments(schemas.IdempotencyHeader, location="headers")
@blp.response(201, schemas.RegistrationCreated)
def register(fields, headers, event_id):
    """Register an attendee: confirmed while places last, then waitlisted."""
    result = service.register(
        current_runtime().unit_of_work(),
        str(event_id),
        str(fields["ticket_type_id"]),
        fields["attendee"],
        idempotency_key=headers.get("idempotency_key"),
    )
    response_headers = {
        "Location": url_for("registration.get_registration", registration_id=result.registration.id)
    }
    if not result.created:
        response_headers["Idempotent-Replayed"] = "true"
    return result.registration, 201, response_headers


@blp.route("/events/<uuid:event_id>/registrations", methods=["GET"])
@require_role(ORGANISER)
@blp.response(200, schemas.RegistrationOut(many=True))
@blp.alt_response(200, description="CSV with Accept: text/csv", content_type="text/csv")
@blp.doc(security=ORGANISER_ONLY)
def list_registrations(event_id):
    """All registrations of an event (organiser); CSV with Accept: text/csv."""
    with current_runtime().session_factory() as session:
        registrations = service.event_registrations(session, current_principal(), str(event_id))
    if wants_csv():
        return Response(
            csv_export.registrations_csv(registrations),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="registrations-{event_id}.csv"'},
        )
    return registrations


@blp.route("/registrations/<uuid:registration_id>", methods=["GET"])
@blp.arguments(schemas.ManageTokenQuery, location="query")
@blp.response(200, schemas.RegistrationOut)
def get_registration(query, registration_id):
    """An attendee's own registration, opened with its manage token."""
    with current_runtime().session_factory() as session:
        return service.attendee_registration(session, str(registration_id), manage_token())


@blp.route("/registrations/<uuid:registration_id>/cancel", methods=["POST"])
@blp.arguments(schemas.ManageTokenQuery, location="query")
@blp.response(200, schemas.RegistrationOut)
def cancel_registration(query, registration_id):
    """Cancel with the manage token; the place goes to the first on the waitlist."""
    return service.cancel(current_runtime().unit_of_work(), str(registration_id), manage_token())
