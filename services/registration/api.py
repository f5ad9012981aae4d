from flask import Response, request, url_for

from services.registration import schemas, service
from services.registration.wording import DEFAULT_LANGUAGE
from shared.auth import ATTENDEES, INSTANCE, MANAGE, READ, TEAM
from shared.http import (
    Blueprint,
    current_principal,
    current_runtime,
    failed_authentications,
    manage_token,
    problem,
    require,
    too_many_failures,
    wants_csv,
)

blp = Blueprint("registration", __name__, description="Events, ticket types and registrations")

BEARER = [{"bearer": []}]


def _detailed(event):
    with current_runtime().session_factory() as session:
        return service.with_details(session, event)


def _with_places(session, registration):
    registration.sessions = service.seats_by_registration(session, [registration.id])[
        registration.id
    ]
    return registration


def _registration_out(registration):
    with current_runtime().session_factory() as session:
        return _with_places(session, registration)


def _uow():
    return current_runtime().unit_of_work()


def register_attendee(event_id, fields: dict, idempotency_key: str | None):
    """Register with a RegistrationCreate's fields; the key counts for the client's address
    (behind the gateway, the one ProxyFix took from it)."""
    return service.register_as_requested(
        _uow(), str(event_id), fields, idempotency_key, request.remote_addr
    )


# --- the public -----------------------------------------------------------------------------


@blp.route("/events", methods=["GET"])
@blp.arguments(schemas.PublishedEventsQuery, location="query")
@blp.response(200, schemas.EventOut(many=True))
def list_published_events(query):
    """Published events with their remaining places, optionally of one category."""
    with current_runtime().session_factory() as session:
        return service.published_events(session, query.get("category"))


@blp.route("/events/<uuid:event_id>", methods=["GET"])
@blp.response(200, schemas.EventOut)
def get_published_event(event_id):
    """One published event, with its ticket types, sessions and questions."""
    with current_runtime().session_factory() as session:
        return service.published_event(session, str(event_id))


@blp.route("/events/<uuid:event_id>/registrations", methods=["POST"])
@blp.arguments(schemas.RegistrationCreate)
@blp.arguments(schemas.IdempotencyHeader, location="headers")
@blp.response(201, schemas.RegistrationCreated)
def register(fields, headers, event_id):
    """Register an attendee: confirmed while places last, then waitlisted (or pending approval
    for a ticket type that needs it)."""
    result = register_attendee(event_id, fields, headers.get("idempotency_key"))
    response_headers = {
        "Location": url_for("registration.get_registration", registration_id=result.registration.id)
    }
    if not result.created:
        response_headers["Idempotent-Replayed"] = "true"
    result.registration.sessions = result.places
    return result.registration, 201, response_headers


@blp.route("/registrations/<uuid:registration_id>", methods=["GET"])
@blp.arguments(schemas.ManageTokenQuery, location="query")
@blp.response(200, schemas.RegistrationOut)
def get_registration(query, registration_id):
    """An attendee's own registration, opened with its manage token."""
    with current_runtime().session_factory() as session:
        registration = service.attendee_registration(session, str(registration_id), manage_token())
        return _with_places(session, registration)


@blp.route("/registrations/<uuid:registration_id>", methods=["PATCH"])
@blp.arguments(schemas.AnswersChange)
@blp.arguments(schemas.ManageTokenQuery, location="query")
@blp.response(200, schemas.RegistrationOut)
def change_answers(fields, query, registration_id):
    """Change answers with the manage token; answers not sent stay as they were."""
    registration = service.change_answers(
        _uow(), str(registration_id), manage_token(), fields["answers"], fields.get("language")
    )
    return _registration_out(registration)


@blp.route("/registrations/<uuid:registration_id>/cancel", methods=["POST"])
@blp.arguments(schemas.ManageTokenQuery, location="query")
@blp.response(200, schemas.RegistrationOut)
def cancel_registration(query, registration_id):
    """Cancel with the manage token; the place goes to the first on the waitlist."""
    return _registration_out(service.cancel(_uow(), str(registration_id), manage_token()))


@blp.route("/registrations/<uuid:registration_id>/claim", methods=["POST"])
@blp.arguments(schemas.ManageTokenQuery, location="query")
@blp.response(200, schemas.RegistrationOut)
def claim_offered_place(query, registration_id):
    """Claim a place offered from the waitlist, before the offer lapses (manage token)."""
    return _registration_out(service.claim(_uow(), str(registration_id), manage_token()))


# --- organisers -----------------------------------------------------------------------------


@blp.route("/events", methods=["POST"])
@require(MANAGE)
@blp.arguments(schemas.EventCreate)
@blp.response(201, schemas.EventOut)
@blp.doc(security=BEARER)
def create_event(fields):
    """Create a draft event (organiser)."""
    return _detailed(service.create_event(_uow(), current_principal(), fields))


@blp.route("/organisation/events", methods=["GET"])
@require(READ)
@blp.response(200, schemas.EventOut(many=True))
@blp.doc(security=BEARER)
def list_own_events():
    """Every event of your organisation, drafts and cancelled ones included (organiser)."""
    with current_runtime().session_factory() as session:
        return service.organiser_events(session, current_principal())


@blp.route("/organisation/events/<uuid:event_id>", methods=["GET"])
@require(READ)
@blp.response(200, schemas.EventOut)
@blp.doc(security=BEARER)
def get_own_event(event_id):
    """One event of your organisation, whatever its status (organiser)."""
    with current_runtime().session_factory() as session:
        return service.organiser_event(session, current_principal(), str(event_id))


@blp.route("/events/<uuid:event_id>", methods=["PATCH"])
@require(MANAGE)
@blp.arguments(schemas.EventChange)
@blp.response(200, schemas.EventOut)
@blp.doc(security=BEARER)
def update_event(fields, event_id):
    """Change an event; once published, the change is announced (organiser)."""
    event = service.update_event(_uow(), current_principal(), str(event_id), fields)
    return _detailed(event)


@blp.route("/events/<uuid:event_id>/publish", methods=["POST"])
@require(MANAGE)
@blp.response(200, schemas.EventOut)
@blp.doc(security=BEARER)
def publish_event(event_id):
    """Publish an event so attendees can register (organiser)."""
    return _detailed(service.publish_event(_uow(), current_principal(), str(event_id)))


@blp.route("/events/<uuid:event_id>/unpublish", methods=["POST"])
@require(MANAGE)
@blp.response(200, schemas.EventOut)
@blp.doc(security=BEARER)
def unpublish_event(event_id):
    """Hide a published event and stop new registrations; existing ones stay (organiser)."""
    return _detailed(service.unpublish_event(_uow(), current_principal(), str(event_id)))


@blp.route("/events/<uuid:event_id>/cancel", methods=["POST"])
@require(MANAGE)
@blp.response(200, schemas.EventOut)
@blp.doc(security=BEARER)
def cancel_event(event_id):
    """Cancel an event and all its registrations; their tickets are revoked (organiser)."""
    return _detailed(service.cancel_event(_uow(), current_principal(), str(event_id)))


@blp.route("/events/<uuid:event_id>/ticket-types", methods=["POST"])
@require(MANAGE)
@blp.arguments(schemas.TicketTypeCreate)
@blp.response(201, schemas.TicketTypeOut)
@blp.doc(security=BEARER)
def add_ticket_type(fields, event_id):
    """Add a ticket type with a quota (organiser)."""
    return service.add_ticket_type(_uow(), current_principal(), str(event_id), fields)


@blp.route("/ticket-types/<uuid:ticket_type_id>", methods=["PATCH"])
@require(MANAGE)
@blp.arguments(schemas.TicketTypeChange)
@blp.response(200, schemas.TicketTypeOut)
@blp.doc(security=BEARER)
def update_ticket_type(fields, ticket_type_id):
    """Change a ticket type; places a larger quota adds go to the waitlist first (organiser)."""
    return service.update_ticket_type(_uow(), current_principal(), str(ticket_type_id), fields)


@blp.route("/events/<uuid:event_id>/sessions", methods=["POST"])
@require(MANAGE)
@blp.arguments(schemas.TimeSlotCreate)
@blp.response(201, schemas.TimeSlotOut)
@blp.doc(security=BEARER)
def add_time_slot(fields, event_id):
    """Add a session (a time slot with its own capacity) to an event (organiser)."""
    return service.add_time_slot(_uow(), current_principal(), str(event_id), fields)


@blp.route("/sessions/<uuid:session_id>", methods=["PATCH"])
@require(MANAGE)
@blp.arguments(schemas.TimeSlotChange)
@blp.response(200, schemas.TimeSlotOut)
@blp.doc(security=BEARER)
def update_time_slot(fields, session_id):
    """Change a session; seats a larger capacity adds go to its waitlist first (organiser)."""
    return service.update_time_slot(_uow(), current_principal(), str(session_id), fields)


@blp.route("/events/<uuid:event_id>/questions", methods=["POST"])
@require(MANAGE)
@blp.arguments(schemas.QuestionCreate)
@blp.response(201, schemas.QuestionOut)
@blp.doc(security=BEARER)
def add_question(fields, event_id):
    """Ask attendees a question when they register (organiser)."""
    return service.add_question(_uow(), current_principal(), str(event_id), fields)


@blp.route("/questions/<uuid:question_id>", methods=["PATCH"])
@require(MANAGE)
@blp.arguments(schemas.QuestionChange)
@blp.response(200, schemas.QuestionOut)
@blp.doc(security=BEARER)
def update_question(fields, question_id):
    """Change a question (organiser)."""
    return service.update_question(_uow(), current_principal(), str(question_id), fields)


@blp.route("/questions/<uuid:question_id>", methods=["DELETE"])
@require(MANAGE)
@blp.response(204)
@blp.doc(security=BEARER)
def remove_question(question_id):
    """Stop asking a question; answers already given are kept (organiser)."""
    service.remove_question(_uow(), current_principal(), str(question_id))


@blp.route("/events/<uuid:event_id>/registrations", methods=["GET"])
@require(ATTENDEES)
@blp.arguments(schemas.RegistrationsQuery, location="query")
@blp.response(200, schemas.RegistrationOut(many=True))
@blp.alt_response(200, description="CSV with Accept: text/csv", content_type="text/csv")
@blp.doc(security=BEARER)
def list_registrations(query, event_id):
    """Registrations of an event, filtered by status or ticket type, searched by name or
    email (organiser); CSV with Accept: text/csv."""
    where = service.RegistrationFilter(
        status=query.get("status"),
        ticket_type_id=str(query["ticket_type_id"]) if "ticket_type_id" in query else None,
        search=query.get("q"),
    )
    with current_runtime().session_factory() as session:
        report = service.registrations_report(session, current_principal(), str(event_id), where)
    if wants_csv():
        return Response(
            service.registrations_csv(report),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="registrations-{event_id}.csv"'},
        )
    for registration in report.registrations:
        registration.sessions = report.places[registration.id]
    return report.registrations


def _organiser_decision(decide, registration_id):
    return _registration_out(decide(_uow(), current_principal(), str(registration_id)))


@blp.route("/registrations/<uuid:registration_id>/approve", methods=["POST"])
@require(MANAGE)
@blp.response(200, schemas.RegistrationOut)
@blp.doc(security=BEARER)
def approve_registration(registration_id):
    """Approve an applicant: confirmed while places last, else waitlisted (organiser)."""
    return _organiser_decision(service.approve, registration_id)


@blp.route("/registrations/<uuid:registration_id>/reject", methods=["POST"])
@require(MANAGE)
@blp.arguments(schemas.Rejection)
@blp.response(200, schemas.RegistrationOut)
@blp.doc(security=BEARER)
def reject_registration(fields, registration_id):
    """Turn an applicant down, optionally saying why: the reason goes in their mail
    (organiser)."""
    registration = service.reject(
        _uow(), current_principal(), str(registration_id), reason=fields.get("reason")
    )
    return _registration_out(registration)


@blp.route("/registrations/<uuid:registration_id>/erase", methods=["POST"])
@require(MANAGE)
@blp.response(200, schemas.RegistrationOut)
@blp.doc(security=BEARER)
def erase_personal_data(registration_id):
    """Erase an attendee's name, email and answers at their request; counts stay
    (organiser)."""
    return _organiser_decision(service.erase_attendee, registration_id)


# --- organisations and their teams ------------------------------------------------------


@blp.route("/organisations", methods=["POST"])
@require(INSTANCE)
@blp.arguments(schemas.OrganisationCreate)
@blp.response(201, schemas.OrganisationOut)
@blp.doc(security=BEARER)
def create_organisation(fields):
    """Create an organisation; its first owner is mailed an invitation (the instance's
    administrator: the bootstrap token)."""
    organisation, invitation = service.create_organisation(
        _uow(),
        current_principal(),
        fields["name"],
        fields["owner"],
        fields.get("language", DEFAULT_LANGUAGE),
    )
    organisation.owner_invitation = invitation
    return organisation


@blp.route("/members/invitations", methods=["POST"])
@require(TEAM)
@blp.arguments(schemas.InvitationCreate)
@blp.response(201, schemas.InvitationOut)
@blp.doc(security=BEARER)
def invite_member(fields):
    """Invite someone to the team by mail, with a role and optionally only some events (owner
    or manager; only an owner invites owners)."""
    event_ids = fields.get("event_ids")
    return service.invite_member(
        _uow(),
        current_principal(),
        fields["email"],
        fields["role"],
        [str(event_id) for event_id in event_ids] if event_ids is not None else None,
        fields.get("language", DEFAULT_LANGUAGE),
    )


@blp.route("/invitations/<string:invitation_token>/accept", methods=["POST"])
@blp.arguments(schemas.InvitationAccept)
@blp.response(201, schemas.MemberOut)
def accept_invitation(fields, invitation_token):
    """Join the team with the invitation link's token: your name and a password (10 to 200
    characters). A used or expired invitation answers 410."""
    return service.accept_invitation(_uow(), invitation_token, fields["name"], fields["password"])


@blp.route("/sign-in", methods=["POST"])
@blp.arguments(schemas.SignIn)
@blp.response(200, schemas.SignedInOut)
def sign_in(fields):
    """A bearer token for all three services, valid 12 hours, with your role. Too many failed
    tries for one address or from one client answer 429."""
    refused = too_many_failures(account=fields["email"])
    if refused is not None:
        return refused
    signed_in = service.sign_in(
        _uow(),
        fields["email"],
        fields["password"],
        fields.get("organisation_id"),
        fields.get("code"),
    )
    if isinstance(signed_in, service.SignInRefused):
        if signed_in.reason == service.CODE_MISSING:
            return problem(
                401,
                "Enter the code from your authenticator app (or a recovery code) as `code`.",
                "second-step-required",
            )
        failed_authentications().record(account=fields["email"])
        if signed_in.reason == service.CODE_WRONG:
            return problem(401, "That code is not right.", "second-step-refused")
        return problem(401, "The email address or the password is not right.")
    return signed_in


@blp.route("/sign-out", methods=["POST"])
@require(READ)
@blp.response(204)
@blp.doc(security=BEARER)
def sign_out():
    """Refuse this token from now on, in every service within seconds (a member's token)."""
    service.sign_out(_uow(), current_principal())


@blp.route("/sign-out-everywhere", methods=["POST"])
@require(READ)
@blp.response(204)
@blp.doc(security=BEARER)
def sign_out_everywhere():
    """End every sign-in of yours, in every service, within seconds (a member's token)."""
    service.sign_out_everywhere(_uow(), current_principal())


@blp.route("/members", methods=["GET"])
@require(READ)
@blp.response(200, schemas.MemberOut(many=True))
@blp.doc(security=BEARER)
def list_members():
    """Your organisation's team."""
    with current_runtime().session_factory() as session:
        return service.team(session, current_principal())


@blp.route("/members/<uuid:member_id>", methods=["PATCH"])
@require(TEAM)
@blp.arguments(schemas.MemberChange)
@blp.response(200, schemas.MemberOut)
@blp.doc(security=BEARER)
def change_member(fields, member_id):
    """Give a member another role, or other events; in effect in every service within
    seconds (only an owner changes owners; a team keeps one)."""
    limit_events = "event_ids" in fields
    event_ids = fields.get("event_ids")
    return service.change_member(
        _uow(),
        current_principal(),
        str(member_id),
        fields["role"],
        [str(event_id) for event_id in event_ids] if event_ids is not None else None,
        limit_events,
    )


@blp.route("/members/<uuid:member_id>", methods=["DELETE"])
@require(TEAM)
@blp.response(204)
@blp.doc(security=BEARER)
def remove_member(member_id):
    """Take a member off the team; their tokens are refused everywhere within seconds."""
    service.remove_member(_uow(), current_principal(), str(member_id))


@blp.route("/members/me/tokens", methods=["POST"])
@require(READ)
@blp.arguments(schemas.PersonalTokenCreate)
@blp.response(201, schemas.NewPersonalTokenOut)
@blp.doc(security=BEARER)
def create_personal_token(fields):
    """A personal API token for your scripts, with your role in every service; the token is
    shown this once (a member's token)."""
    return service.create_personal_token(_uow(), current_principal(), fields["name"])


@blp.route("/members/me/tokens", methods=["GET"])
@require(READ)
@blp.response(200, schemas.PersonalTokenOut(many=True))
@blp.doc(security=BEARER)
def list_personal_tokens():
    """Your personal API tokens that still work."""
    with current_runtime().session_factory() as session:
        return service.personal_tokens(session, current_principal())


@blp.route("/members/me/tokens/<string:token_id>", methods=["DELETE"])
@require(READ)
@blp.response(204)
@blp.doc(security=BEARER)
def revoke_personal_token(token_id):
    """Revoke one of your personal API tokens: refused everywhere within seconds."""
    service.revoke_personal_token(_uow(), current_principal(), token_id)


@blp.route("/password-resets", methods=["POST"])
@blp.arguments(schemas.PasswordResetRequest)
@blp.response(202)
def request_password_reset(fields):
    """Mail a link to choose a new password (valid an hour, once) if an account has this
    address; the answer is the same either way."""
    service.request_password_reset(
        _uow(), fields["email"], fields.get("language", DEFAULT_LANGUAGE)
    )


@blp.route("/password-resets/<string:reset_token>", methods=["POST"])
@blp.arguments(schemas.NewPassword)
@blp.response(204)
def reset_password(fields, reset_token):
    """Choose the new password with the mailed link's token; every sign-in of yours ends. A
    used or expired link answers 410."""
    service.reset_password(_uow(), reset_token, fields["password"])
