"""The team's pages: accepting an invitation, the team (members, roles, invitations) and
signing out everywhere. Routes only: forms are read into the API's own schemas and handed to
the service functions the API calls; a refusal comes back as a message beside its field."""

from urllib.parse import parse_qs, urlsplit

import qrcode
from flask import Blueprint, g, make_response, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext
from markupsafe import Markup
from marshmallow import ValidationError
from qrcode.image.svg import SvgPathImage

from services.registration import schemas, service
from services.registration.pages import domain_error_on_a_page, organiser_page, organisers
from shared.auth import MEMBER_ROLES, OWNER, TEAM
from shared.browser_sessions import SignInForm
from shared.errors import DomainError, Gone, InvalidRequest, NotFound
from shared.http import current_runtime

blueprint = Blueprint("team_pages", __name__, template_folder="templates")
blueprint.register_error_handler(DomainError, domain_error_on_a_page)

invitation_form = SignInForm("loopgate_invitation", "/organiser/invitations")


def _uow():
    return current_runtime().unit_of_work()


def role_names() -> dict[str, str]:
    return {
        "owner": gettext("Owner: everything, the team included"),
        "manager": gettext("Manager: events, registrations, doors; invites all but owners"),
        "door": gettext("Door: check-in lists, devices, the dashboard, the scanner"),
        "viewer": gettext("Viewer: sees everything, changes nothing"),
    }


# --- joining from an invitation -----------------------------------------------------------


@blueprint.get("/organiser/invitations/<token>")
def invitation(token):
    return _invitation_page(token, {}, {}, 200)


@blueprint.post("/organiser/invitations/<token>")
def accept_invitation(token):
    if not invitation_form.sent_back():
        message = gettext("The form had expired. Please try again.")
        return _invitation_page(token, request.form, {"form": message}, 400)
    fields, errors = _chosen_password(
        schemas.InvitationAccept(), {"name": request.form.get("name", "")}
    )
    if errors:
        return _invitation_page(token, request.form, errors, 422)
    try:
        member = service.accept_invitation(_uow(), token, fields["name"], fields["password"])
    except InvalidRequest as error:
        return _invitation_page(token, request.form, _field_errors(error), 422)
    signed_in = service.sign_in(_uow(), member.email, fields["password"])
    return invitation_form.done(_signed_in_or_to_sign_in(signed_in))


def _invitation_page(token: str, form, errors: dict, status: int):
    with current_runtime().session_factory() as session:
        try:
            invited = service.open_invitation(session, current_runtime().secret_box, token)
        except (NotFound, Gone) as closed:
            page = render_template("error.html", message=gettext(closed.detail))
            return page, closed.status
        organisation = service.organisation_of(session, invited)
    return invitation_form.page(
        "invitation.html",
        status,
        invited=invited,
        organisation=organisation,
        role=role_names()[invited.role],
        form=form,
        errors=errors,
    )


# --- a forgotten password -----------------------------------------------------------------

reset_form = SignInForm("loopgate_password_reset", "/organiser/password-resets")


@blueprint.get("/organiser/password-resets")
def password_reset_request():
    return _reset_request_page({}, 200)


@blueprint.post("/organiser/password-resets")
def request_password_reset():
    if not reset_form.sent_back():
        return _reset_request_page(
            {"form": gettext("The form had expired. Please try again.")}, 400
        )
    try:
        fields = schemas.PasswordResetRequest().load(
            {"email": request.form.get("email", ""), "language": str(get_locale())}
        )
    except ValidationError:
        return _reset_request_page({"email": gettext("Enter your email address.")}, 422)
    service.request_password_reset(_uow(), fields["email"], fields["language"])
    page = render_template("password_reset_sent.html", email=fields["email"])
    return reset_form.done(make_response(page, 200))


def _reset_request_page(errors: dict, status: int):
    return reset_form.page("password_reset_request.html", status, errors=errors)


@blueprint.get("/organiser/password-resets/<token>")
def new_password(token):
    return _new_password_page(token, {}, 200)


@blueprint.post("/organiser/password-resets/<token>")
def choose_new_password(token):
    if not reset_form.sent_back():
        return _new_password_page(
            token, {"form": gettext("The form had expired. Please try again.")}, 400
        )
    fields, errors = _chosen_password(schemas.NewPassword(), {})
    if errors:
        return _new_password_page(token, errors, 422)
    email = service.reset_password(_uow(), token, fields["password"])
    signed_in = service.sign_in(_uow(), email, fields["password"])
    return reset_form.done(_signed_in_or_to_sign_in(signed_in))


def _chosen_password(schema, values: dict) -> tuple[dict | None, dict[str, str]]:
    """A form that chooses a password, typed twice, read with `values` into `schema`: its
    fields, and what to say beside which field (nothing when all is well)."""
    password = request.form.get("password", "")
    errors = {}
    if password != request.form.get("password_again"):
        errors["password_again"] = gettext("Type the same password twice.")
    try:
        fields = schema.load({**values, "password": password})
    except ValidationError as error:
        fields, friendly = None, {"name": gettext("Enter your name (at most 200 characters).")}
        errors |= {
            field: friendly.get(field, gettext("Use 10 to 200 characters."))
            for field in error.messages
        }
    return fields, errors


def _signed_in_or_to_sign_in(signed_in):
    """To the organiser's home, signed in; or to the sign-in page, where someone with
    two-step sign-in on types their code."""
    if not isinstance(signed_in, service.SignedIn):
        return redirect(url_for("pages.login"), 303)
    response = redirect(url_for("pages.organiser_home"), 303)
    return organisers.begin(response, signed_in.token, service.SIGN_IN_SECONDS)


def _new_password_page(token: str, errors: dict, status: int):
    with current_runtime().session_factory() as session:
        try:
            service.open_password_reset(session, current_runtime().secret_box, token)
        except (NotFound, Gone) as closed:
            page = render_template("error.html", message=gettext(closed.detail))
            return page, closed.status
    return reset_form.page("password_new.html", status, errors=errors)


# --- the team -----------------------------------------------------------------------------


@blueprint.get("/organiser/team")
@organiser_page
def team():
    return _team_page({}, {}, 200)


@blueprint.post("/organiser/team/invitations")
@organiser_page
def invite():
    try:
        chosen_events = request.form.getlist("event_ids")
        fields = schemas.InvitationCreate().load(
            {
                "email": request.form.get("email", ""),
                "role": request.form.get("role", ""),
                "language": str(get_locale()),
                # No event ticked: every event of the organisation.
                "event_ids": chosen_events or None,
            }
        )
        event_ids = fields["event_ids"]
        service.invite_member(
            _uow(),
            g.principal,
            fields["email"],
            fields["role"],
            [str(event_id) for event_id in event_ids] if event_ids else None,
            fields["language"],
        )
    except ValidationError as error:
        friendly = {
            "email": gettext("Enter an email address like name@example.com."),
            "role": gettext("Choose a role."),
            "event_ids": gettext("Choose events of your organisation."),
        }
        errors = {
            field: friendly.get(field, gettext("Check this field.")) for field in error.messages
        }
        return _team_page(request.form, errors, 422)
    except DomainError as error:
        return _team_page(request.form, _field_errors(error, "email"), error.status)
    return redirect(url_for("team_pages.team", done="invited"), 303)


@blueprint.post("/organiser/team/members/<uuid:member_id>/role")
@organiser_page
def change_role(member_id):
    try:
        service.change_member(_uow(), g.principal, str(member_id), request.form.get("role", ""))
    except DomainError as error:
        return _team_page({}, {f"member-{member_id}": gettext(error.detail)}, error.status)
    return redirect(url_for("team_pages.team", done="changed"), 303)


@blueprint.get("/organiser/team/members/<uuid:member_id>/remove")
@organiser_page
def confirm_removal(member_id):
    with current_runtime().session_factory() as session:
        member = next(
            (m for m in service.team(session, g.principal) if m.id == str(member_id)), None
        )
    if member is None:
        return render_template("error.html", message=gettext("No such member.")), 404
    return render_template("team_remove.html", member=member)


@blueprint.post("/organiser/team/members/<uuid:member_id>/remove")
@organiser_page
def remove(member_id):
    try:
        service.remove_member(_uow(), g.principal, str(member_id))
    except DomainError as error:
        return _team_page({}, {f"member-{member_id}": gettext(error.detail)}, error.status)
    return redirect(url_for("team_pages.team", done="removed"), 303)


@blueprint.post("/organiser/team/tokens")
@organiser_page
def create_token():
    try:
        fields = schemas.PersonalTokenCreate().load({"name": request.form.get("token_name", "")})
    except ValidationError:
        message = gettext("Name the token (at most 100 characters).")
        return _team_page(request.form, {"token_name": message}, 422)
    made = service.create_personal_token(_uow(), g.principal, fields["name"])
    return _team_page({}, {}, 201, new_token=made)


@blueprint.post("/organiser/team/tokens/<token_id>/revoke")
@organiser_page
def revoke_token(token_id):
    service.revoke_personal_token(_uow(), g.principal, token_id)
    return redirect(url_for("team_pages.team", done="revoked"), 303)


@blueprint.post("/organiser/team/two-step/start")
@organiser_page
def start_two_step():
    service.start_two_step(_uow(), g.principal)
    return _two_step_page({}, 200)


@blueprint.post("/organiser/team/two-step/confirm")
@organiser_page
def confirm_two_step():
    try:
        codes = service.confirm_two_step(_uow(), g.principal, request.form.get("code", ""))
    except InvalidRequest as error:
        return _two_step_page(_field_errors(error, "code"), 422)
    return render_template("two_step_codes.html", codes=codes)


@blueprint.post("/organiser/team/two-step/off")
@organiser_page
def turn_off_two_step():
    try:
        service.turn_off_two_step(_uow(), g.principal, request.form.get("code", ""))
    except InvalidRequest as error:
        return _team_page({}, _field_errors(error, "code"), 422)
    return redirect(url_for("team_pages.team", done="two_step_off"), 303)


def _two_step_page(errors: dict, status: int):
    """The new secret as a QR code for the phone's app, and as text to type."""
    runtime = current_runtime()
    with runtime.session_factory() as session:
        uri = service.pending_two_step(session, runtime.secret_box, g.principal)
    if uri is None:
        return redirect(url_for("team_pages.team"), 303)
    picture = qrcode.make(uri, image_factory=SvgPathImage, box_size=8).to_string(encoding="unicode")
    secret = parse_qs(urlsplit(uri).query)["secret"][0]
    # The SVG is qrcode's own drawing of our URI: nothing a visitor typed.
    qr_svg = Markup(picture)  # noqa: S704
    return render_template("two_step.html", qr_svg=qr_svg, secret=secret, errors=errors), status


@blueprint.post("/organiser/sign-out-everywhere")
@organiser_page
def sign_out_everywhere():
    if g.principal.member_id is not None:
        service.sign_out_everywhere(_uow(), g.principal)
    return organisers.end(redirect(url_for("pages.login"), 303))


def _team_page(form, errors: dict, status: int, new_token=None):
    with current_runtime().session_factory() as session:
        members = service.team(session, g.principal)
        events = service.organiser_events(session, g.principal)
        tokens = service.personal_tokens(session, g.principal) if g.principal.member_id else []
        two_step_on = (
            service.uses_two_step(session, g.principal) if g.principal.member_id else False
        )
    manages = g.principal.role in TEAM
    # A manager offers every role but the owner's (DESIGN.md).
    offered = [role for role in MEMBER_ROLES if role != OWNER or g.principal.role != "manager"]
    page = render_template(
        "team.html",
        members=members,
        manages=manages,
        offered=offered,
        role_names=role_names(),
        form=form,
        errors=errors,
        done=request.args.get("done"),
        me=g.principal.member_id,
        tokens=tokens,
        new_token=new_token,
        two_step_on=two_step_on,
        events=events,
        chosen_events=form.getlist("event_ids") if form else [],
    )
    return page, status


def _field_errors(error: DomainError, default_field: str = "form") -> dict[str, str]:
    found = {
        field: gettext(messages[0])
        for field, messages in error.extra.get("errors", {}).get("json", {}).items()
    }
    return found or {default_field: gettext(error.detail)}
