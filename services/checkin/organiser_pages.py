"""The organiser area's pages for an event's doors: its check-in lists, pairing door devices
(a QR code a phone's camera opens), revoking them, and the live dashboard, for a member
signed in once (shared/pages.py). Routes only: forms are read into the API's own schemas and
handed to the service functions the API calls; a refusal comes back beside its field.

The dashboard's script reads its figures from the feeds here, which know the member by the
same cookie, so no token is ever pasted into a page."""

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps
from zoneinfo import ZoneInfo

import qrcode
from flask import Blueprint, abort, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext
from markupsafe import Markup
from marshmallow import ValidationError
from qrcode.image.svg import SvgPathImage
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from services.checkin import schemas, service
from services.checkin.api import live_stats_stream, scans_csv_download
from services.checkin.pages import dashboard_texts
from shared.auth import ATTENDEES, DOORS, READ
from shared.errors import N_, DomainError, InvalidRequest
from shared.http import current_runtime, problem
from shared.pages import organiser_sessions, signed_in_member

blueprint = Blueprint("checkin_organiser_pages", __name__, template_folder="templates")

# Every member reads these pages; door members and up change lists and devices.
doors = organiser_sessions(signed_in_member, changes=DOORS)

# What the dashboard's script fetches: refusals answer it as problem+json, not as a page.
FEEDS = frozenset(
    f"checkin_organiser_pages.{name}" for name in ("stats", "live_stats", "scans_csv")
)
# What a person is told when a page refuses: the form's token is from another sign-in, their
# role reads only, or what the address names is not this event's.
PAGE_REFUSALS = {
    400: N_("The form had expired. Please go back, reload the page and try again."),
    403: N_("Your role may look at the doors but not change them."),
    404: N_("There is no such page."),
}


def organiser_page(view):
    """Only for a signed-in member with a role that reads events (see `doors`)."""

    @doors.signed_in
    @wraps(view)
    def wrapper(*args, **kwargs):
        if g.principal.role not in READ:
            abort(403)
        return view(*args, **kwargs)

    return wrapper


@blueprint.errorhandler(DomainError)
def refused(error: DomainError):
    """The service's refusal on a page of its own (shared/templates/organiser_error.html)."""
    message = gettext(error.detail)
    if request.endpoint in FEEDS:
        return problem(error.status, message, error.slug)
    return render_template("organiser_error.html", message=message), error.status


@blueprint.errorhandler(HTTPException)
def turned_away(error: HTTPException):
    """A page for what the pages themselves refuse (a form from before the sign-in, a
    viewer's form, another event's list); the feeds answer as the API does."""
    if request.endpoint in FEEDS or error.code not in PAGE_REFUSALS:
        return problem(error.code, error.description)
    message = gettext(PAGE_REFUSALS[error.code])
    return render_template("organiser_error.html", message=message), error.code


def _session():
    return current_runtime().session_factory()


def _uow():
    return current_runtime().unit_of_work()


def _doors(event_id) -> service.EventDoors:
    with _session() as session:
        return service.event_doors(session, g.principal, str(event_id))


def _list_of(doors_now: service.EventDoors, list_id):
    """The list of this event (another event's, even one the member may open, is missing
    here: its address names this event)."""
    return _one_of(doors_now.lists, list_id)


def _device_of(doors_now: service.EventDoors, device_id):
    """The door device of this event, as `_list_of` finds a list."""
    return _one_of(doors_now.devices, device_id)


def _one_of(items, item_id):
    found = next((item for item in items if item.id == str(item_id)), None)
    if found is None:
        abort(404)
    return found


def _to_doors(event_id, done: str):
    return redirect(url_for(".doors_page", event_id=event_id, done=done), 303)


# --- the doors page -----------------------------------------------------------------------


@blueprint.get("/events/<uuid:event_id>/doors")
@organiser_page
def doors_page(event_id):
    return render_template(
        "organiser_doors.html",
        doors=_doors(event_id),
        reentry_names=reentry_names(),
        done=request.args.get("done"),
    )


def reentry_names() -> dict[str, str]:
    return {
        "once": gettext("Once: no second entry"),
        "daily": gettext("Once a day, in the event's time zone"),
        "unlimited": gettext("Again after an exit scan"),
    }


# --- adding, changing and deleting a list ------------------------------------------------


@blueprint.get("/events/<uuid:event_id>/lists/new")
@organiser_page
def new_list(event_id):
    return _list_form(_doors(event_id), None, MultiDict({"reentry": "once"}), {}, 200)


@blueprint.post("/events/<uuid:event_id>/lists")
@organiser_page
def add_list(event_id):
    doors_now = _doors(event_id)
    return _saved_or_refused(
        doors_now,
        None,
        lambda fields: service.create_list(_uow(), g.principal, doors_now.event.id, fields),
        "added",
    )


@blueprint.get("/events/<uuid:event_id>/lists/<uuid:list_id>")
@organiser_page
def change_list_form(event_id, list_id):
    doors_now = _doors(event_id)
    checkin_list = _list_of(doors_now, list_id)
    return _list_form(doors_now, checkin_list, _form_values(checkin_list), {}, 200)


@blueprint.post("/events/<uuid:event_id>/lists/<uuid:list_id>")
@organiser_page
def change_list(event_id, list_id):
    doors_now = _doors(event_id)
    checkin_list = _list_of(doors_now, list_id)
    return _saved_or_refused(
        doors_now,
        checkin_list,
        lambda fields: service.update_list(_uow(), g.principal, checkin_list.id, fields),
        "changed",
    )


def _saved_or_refused(doors_now, checkin_list, save, done: str):
    """Save the form through `save`, or show it again with what was typed and why not."""
    try:
        save(schemas.ListIn().load(_list_fields(request.form, doors_now.event.timezone)))
    except ValidationError as error:
        return _list_form(doors_now, checkin_list, request.form, _field_errors(error), 422)
    except InvalidRequest as error:
        return _list_form(doors_now, checkin_list, request.form, _rule_errors(error), 422)
    return _to_doors(doors_now.event.id, done)


def _list_form(doors_now, checkin_list, form, errors: dict, status: int):
    page = render_template(
        "organiser_list_form.html",
        doors=doors_now,
        checkin_list=checkin_list,
        form=form,
        errors=errors,
        reentry_names=reentry_names(),
    )
    return page, status


def _list_fields(form, timezone: str) -> dict:
    """The form in the shape of the API's ListIn; times are read in the event's time zone,
    and no ticket type ticked admits them all."""
    return {
        "name": form.get("name", ""),
        "ticket_type_ids": form.getlist("ticket_type_ids") or None,
        "session_id": form.get("session_id", "").strip() or None,
        "opens_at": _moment(form.get("opens_at", ""), timezone),
        "closes_at": _moment(form.get("closes_at", ""), timezone),
        "reentry": form.get("reentry", ""),
    }


def _moment(text: str, timezone: str) -> str | None:
    """A datetime-local field's text as a moment in the event's time zone; text that is no
    such moment goes on as typed, for the schema to refuse."""
    if not text.strip():
        return None
    try:
        local = datetime.fromisoformat(text.strip())
    except ValueError:
        return text
    return local.replace(tzinfo=ZoneInfo(timezone)).isoformat()


def _form_values(checkin_list) -> MultiDict:
    """A list's rules as its form shows them."""
    values = MultiDict(
        {
            "name": checkin_list.name,
            "session_id": checkin_list.session_id or "",
            "opens_at": _local_input(checkin_list.opens_at, checkin_list.timezone),
            "closes_at": _local_input(checkin_list.closes_at, checkin_list.timezone),
            "reentry": checkin_list.reentry,
        }
    )
    for type_id in checkin_list.ticket_type_ids or []:
        values.add("ticket_type_ids", type_id)
    return values


def _local_input(moment: datetime | None, timezone: str) -> str:
    if moment is None:
        return ""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%dT%H:%M")


def _field_errors(error: ValidationError) -> dict[str, str]:
    """The schema's findings by form field, each as a sentence saying what to type."""
    friendly = {
        "name": gettext("Enter a name (at most 120 characters)."),
        "ticket_type_ids": gettext("Choose ticket types of this event."),
        "session_id": gettext("Enter the session in at most 64 characters."),
        "opens_at": gettext("Enter when it opens as a date and time."),
        "closes_at": gettext("Enter when it closes as a date and time."),
        "reentry": gettext("Choose how often a ticket may come in."),
    }
    return {field: friendly.get(field, gettext("Check this field.")) for field in error.messages}


def _rule_errors(error: InvalidRequest) -> dict[str, str]:
    """The rules' refusal beside the fields it names (an unknown ticket type, a window that
    closes before it opens)."""
    return {field: gettext(error.detail) for field in error.extra.get("errors", {})} or {
        "form": gettext(error.detail)
    }


@dataclass(frozen=True)
class Asked:
    """What a page asks once before what cannot be undone: `question` names the list or
    device (%(name)s), `consequences` say what will happen, `confirm` is the button."""

    question: str
    consequences: tuple[str, ...]
    confirm: str


LIST_DELETION = Asked(
    N_("Delete the list “%(name)s”?"),
    (
        N_("Devices paired to it keep scanning, and open on the default list."),
        N_("A list that has scans stays, so that they keep their gate."),
    ),
    N_("Delete the list"),
)
REVOCATION = Asked(
    N_("Revoke the device “%(name)s”?"),
    (
        N_("It stops scanning within seconds; scans it made stay counted."),
        N_("To use it again, pair it with a new code."),
    ),
    N_("Revoke the device"),
)


def asked_first(rule: str, confirm_endpoint: str, find, asked: Asked):
    """`rule`'s two routes for what cannot be undone to the list or device that `find` finds
    in the event's doors (its id the rule's other part): GET is the page asking once
    (`confirm_endpoint`, shared/templates), under the event's doors; its form POSTs to the
    same address, which does the decorated `act(event_id, item)`."""

    def register(act):
        def confirm(event_id, **ids):
            doors_now = _doors(event_id)
            [item_id] = ids.values()
            return render_template(
                "organiser_confirm.html",
                up_url=url_for(".doors_page", event_id=doors_now.event.id),
                up_label=gettext("Doors of %(title)s", title=doors_now.event.title),
                question=gettext(asked.question, name=find(doors_now, item_id).name),
                consequences=[gettext(consequence) for consequence in asked.consequences],
                action=url_for(f".{act.__name__}", event_id=event_id, **ids),
                confirm=gettext(asked.confirm),
            )

        @wraps(act)
        def done(event_id, **ids):
            [item_id] = ids.values()
            return act(event_id, find(_doors(event_id), item_id))

        blueprint.get(rule, endpoint=confirm_endpoint)(organiser_page(confirm))
        blueprint.post(rule)(organiser_page(done))
        return act

    return register


@asked_first(
    "/events/<uuid:event_id>/lists/<uuid:list_id>/delete",
    "confirm_list_deletion",
    _list_of,
    LIST_DELETION,
)
def delete_list(event_id, checkin_list):
    service.delete_list(_uow(), g.principal, checkin_list.id)
    return _to_doors(event_id, "deleted")


# --- door devices ------------------------------------------------------------------------


@blueprint.post("/events/<uuid:event_id>/lists/<uuid:list_id>/pairing-codes")
@organiser_page
def pair_device(event_id, list_id):
    doors_now = _doors(event_id)
    checkin_list = _list_of(doors_now, list_id)
    pairing = service.create_pairing_code(_uow(), g.principal, checkin_list.id)
    link = f"{url_for('checkin_pages.scanner', _external=True)}#pair={pairing['code']}"
    picture = qrcode.make(link, image_factory=SvgPathImage, box_size=10)
    # The SVG is qrcode's own drawing of a link we made: nothing a visitor typed.
    qr_svg = Markup(picture.to_string(encoding="unicode"))  # noqa: S704
    page = render_template(
        "organiser_pairing.html",
        doors=doors_now,
        checkin_list=checkin_list,
        pairing=pairing,
        link=link,
        qr_svg=qr_svg,
    )
    # Shown once: never kept by the browser or a proxy.
    return page, 201, {"Cache-Control": "no-store"}


@asked_first(
    "/events/<uuid:event_id>/devices/<uuid:device_id>/revoke",
    "confirm_revocation",
    _device_of,
    REVOCATION,
)
def revoke_device(event_id, device):
    runtime = current_runtime()
    tokens = runtime.tables.tokens
    service.revoke_device(runtime.unit_of_work(), g.principal, tokens, device.id)
    runtime.recent_tokens.forget_all()
    return _to_doors(event_id, "revoked")


# --- the live dashboard and its feeds -----------------------------------------------------


# --- one attendee's check-ins ----------------------------------------------------------------


@blueprint.get("/registrations/<uuid:registration_id>/check-ins")
@organiser_page
def check_ins(registration_id):
    """Every entry and exit of one registration's tickets, gate by gate (linked from the
    attendee's page in registration's part of the organiser area)."""
    with _session() as session:
        event, tickets = service.registration_check_ins(session, g.principal, str(registration_id))
    return render_template(
        "organiser_check_ins.html",
        event=event,
        tickets=tickets,
        registration_id=str(registration_id),
    )


@blueprint.get("/events/<uuid:event_id>/dashboard")
@organiser_page
def dashboard(event_id):
    with _session() as session:
        stats = service.event_stats(session, g.principal, str(event_id))
    return render_template(
        "organiser_dashboard.html",
        stats=stats,
        # Where the script finds /events/<id>/stats and the other feeds below.
        feeds=url_for(".dashboard", event_id=event_id).rsplit("/events/", 1)[0],
        texts=dashboard_texts(),
        may_export=g.principal.role in ATTENDEES,
    )


@blueprint.get("/events/<uuid:event_id>/stats")
@organiser_page
def stats(event_id):
    with _session() as session:
        figures = service.event_stats(session, g.principal, str(event_id))
    return jsonify(schemas.StatsOut().dump(figures))


@blueprint.get("/events/<uuid:event_id>/stats/live")
@organiser_page
def live_stats(event_id):
    try:
        args = schemas.LiveArgs().load(request.args)
    except ValidationError as error:
        return problem(422, "Check the query.", errors=error.messages)
    return live_stats_stream(g.principal, str(event_id), args["max_seconds"])


@blueprint.get("/events/<uuid:event_id>/scans.csv")
@organiser_page
def scans_csv(event_id):
    # Exports hold who came: never the door's.
    if g.principal.role not in ATTENDEES:
        abort(403)
    return scans_csv_download(g.principal, str(event_id))
