"""The public and organiser pages: server-rendered, working without JavaScript, in the reader's
language. Routes only: forms are read into the API's own schemas and handed to the same
service functions the API calls; domain errors come back as messages beside their fields."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

from flask import (
    Blueprint,
    Response,
    abort,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_timedelta, get_locale, gettext, ngettext
from marshmallow import Schema, ValidationError
from werkzeug.datastructures import MultiDict

from services.registration import schemas, service
from services.registration.models import (
    CATEGORIES,
    CHOICE,
    CONSENT,
    LIVE,
    MULTIPLE_CHOICE,
    STATUSES,
    TEXT,
    YES_NO,
)
from services.registration.wording import DEFAULT_LANGUAGE, localised
from shared.auth import ATTENDEES, MANAGE
from shared.browser_sessions import SignInForm
from shared.errors import Conflict, DomainError, InvalidRequest, NotFound
from shared.http import current_runtime, failed_authentications, problem
from shared.i18n import LANGUAGE_NAMES
from shared.pages import organiser_sessions

blueprint = Blueprint("pages", __name__, template_folder="templates")


# --- what every template may use ------------------------------------------------------------


@blueprint.app_context_processor
def page_helpers():
    locale = str(get_locale())
    return {
        "text": lambda owner, key="title": localised(
            getattr(owner, key), owner.translations, locale, key
        ),
        "option_labels": lambda question: dict(
            zip(
                question.options,
                (question.translations or {}).get(locale, {}).get("options") or question.options,
                strict=False,
            )
        ),
        "status_name": status_name,
        "category_name": category_name,
    }


def status_name(status: str) -> str:
    return {
        "pending_approval": gettext("Waiting for approval"),
        "confirmed": gettext("Confirmed"),
        "waitlisted": gettext("On the waiting list"),
        "offered": gettext("A place is offered to you"),
        "cancelled": gettext("Cancelled"),
        "rejected": gettext("Not approved"),
        "offer_expired": gettext("Offer expired"),
        "requested": gettext("Requested"),
        "draft": gettext("Draft"),
        "published": gettext("Published"),
        "unpublished": gettext("Unpublished"),
    }[status]


def category_name(category: str) -> str:
    return {
        "exhibition": gettext("Exhibition"),
        "talk": gettext("Talk"),
        "workshop": gettext("Workshop"),
        "performance": gettext("Performance"),
        "demo_day": gettext("Demo day"),
    }[category]


def _session():
    return current_runtime().session_factory()


def _uow():
    return current_runtime().unit_of_work()


# --- attendees ------------------------------------------------------------------------------


@blueprint.get("/")
def home():
    category = request.args.get("category")
    with _session() as session:
        events = service.published_events(session, category if category in CATEGORIES else None)
    return render_template("events.html", events=events, categories=CATEGORIES, chosen=category)


@blueprint.get("/events/<uuid:event_id>")
def event_page(event_id):
    with _session() as session:
        event = service.published_event(session, str(event_id))
    return render_template("event.html", event=event, form={}, errors={}, key=uuid.uuid4().hex)


@blueprint.post("/events/<uuid:event_id>")
def register(event_id):
    form = _registration_form(request.form)
    errors = {}
    try:
        fields = schemas.RegistrationCreate().load(form)
        result = service.register_as_requested(
            _uow(), str(event_id), fields, request.form.get("key") or None, request.remote_addr
        )
    except ValidationError as error:
        # Show the answers' mistakes too, so nobody has to send the form twice to find them.
        with _session() as session:
            problems = service.answer_problems(session, str(event_id), form["answers"])
        errors = _schema_errors(error) | {
            f"answer-{question_id}": gettext(messages[0])
            for question_id, messages in problems.items()
        }
    except (InvalidRequest, Conflict) as error:
        errors = _domain_errors(error)
    if errors:
        with _session() as session:
            event = service.published_event(session, str(event_id))
        page = render_template(
            "event.html", event=event, form=form, errors=errors, key=request.form.get("key")
        )
        return page, 422
    registration = result.registration
    return redirect(
        url_for(
            "pages.manage",
            registration_id=registration.id,
            token=registration.manage_token,
            new=1,
        ),
        303,
    )


@blueprint.get("/registrations/<uuid:registration_id>")
def manage(registration_id):
    return _manage_page(str(registration_id), request.args.get("token"), errors={})


@blueprint.post("/registrations/<uuid:registration_id>/answers")
def change_answers(registration_id):
    token = request.form.get("token")
    form = _registration_form(request.form)
    # An unticked box is not sent at all: a consent shown but not sent is withdrawn, so the
    # rules either record the withdrawal or refuse it, never keep the old answer unsaid.
    for name in request.form:
        question_id = name.removeprefix("kind-")
        if name.startswith("kind-") and request.form[name] == CONSENT:
            form["answers"].setdefault(question_id, False)
    try:
        fields = schemas.AnswersChange().load(
            {"answers": form.get("answers", {}), "language": form["language"]}
        )
        service.change_answers(
            _uow(), str(registration_id), token, fields["answers"], fields["language"]
        )
    except ValidationError as error:
        return _manage_page(str(registration_id), token, _schema_errors(error), 422)
    except (InvalidRequest, Conflict) as error:
        return _manage_page(str(registration_id), token, _domain_errors(error), 422)
    return _back_to_manage(registration_id, token, "saved")


@blueprint.post("/registrations/<uuid:registration_id>/cancel")
def cancel(registration_id):
    token = request.form.get("token")
    if request.form.get("confirmed") != "yes":
        # Cancelling cannot be undone and gives the place away: the manage page asks once.
        target = url_for("pages.manage", registration_id=registration_id, token=token, ask="cancel")
        return redirect(f"{target}#cancel", 303)
    service.cancel(_uow(), str(registration_id), token)
    return _back_to_manage(registration_id, token, "cancelled")


@blueprint.post("/registrations/<uuid:registration_id>/claim")
def claim(registration_id):
    token = request.form.get("token")
    try:
        service.claim(_uow(), str(registration_id), token)
    except Conflict as error:
        return _manage_page(str(registration_id), token, _domain_errors(error), 409)
    return _back_to_manage(registration_id, token, "claimed")


def _manage_page(registration_id: str, token: str | None, errors: dict, status: int = 200):
    g.page = "pages.manage"
    if token and "token" not in request.args:
        g.page_arguments = {"token": token}
    with _session() as session:
        try:
            registration = service.attendee_registration(session, registration_id, token)
        except NotFound:
            return render_template("error.html", message=gettext("This link opens nothing.")), 404
        event = service.registration_event(session, registration)
        places = service.seats_by_registration(session, [registration.id])[registration.id]
        position = service.waitlist_position(session, registration)
    claim_window = None
    if event.waitlist_claim_minutes:
        claim_window = format_timedelta(
            timedelta(minutes=event.waitlist_claim_minutes), threshold=2
        )
    page = render_template(
        "manage.html",
        registration=registration,
        event=event,
        places={place.session_id: place for place in places},
        token=token,
        errors=errors,
        form={"answers": registration.answers},
        done=request.args.get("done"),
        new=request.args.get("new"),
        waitlist_position=position,
        claim_window=claim_window,
        asking_to_cancel=request.args.get("ask") == "cancel",
    )
    return page, status


def _back_to_manage(registration_id, token: str | None, done: str):
    target = url_for("pages.manage", registration_id=registration_id, token=token, done=done)
    return redirect(target, 303)


def _registration_form(form) -> dict:
    """A submitted form in the shape of the API's RegistrationCreate."""
    answers = {}
    for name in form:
        if not name.startswith("answer-"):
            continue
        question_id, kind = name.removeprefix("answer-"), form.get(f"kind-{name[7:]}")
        values = form.getlist(name)
        if kind == MULTIPLE_CHOICE:
            answers[question_id] = values
        elif kind in (YES_NO, CONSENT):
            answers[question_id] = values[0] == "yes"
        else:
            answers[question_id] = values[0]
    payload = {
        "attendee": {"name": form.get("name", ""), "email": form.get("email", "")},
        "answers": answers,
        "session_ids": form.getlist("session_ids"),
        "language": str(get_locale()),
    }
    if form.get("ticket_type_id"):
        payload["ticket_type_id"] = form["ticket_type_id"]
    return payload


def _schema_errors(error: ValidationError) -> dict[str, str]:
    """The schema's findings, by form field, as sentences in the reader's language."""
    friendly = {
        "ticket_type_id": gettext("Choose a ticket type."),
        "session_ids": gettext("Choose sessions of this event."),
        "name": gettext("Enter your name (at most 200 characters)."),
        "email": gettext("Enter an email address like name@example.com."),
    }
    return _in_words(error.messages, friendly)


def _in_words(messages: dict, friendly: dict[str, str]) -> dict[str, str]:
    """An API-shaped error tree by form field, each as its sentence from `friendly`."""
    return {
        field: friendly.get(field, gettext("Check this field."))
        for field, _ in _by_form_field(messages)
    }


def _domain_errors(error: DomainError) -> dict[str, str]:
    """The rules' findings by form field (or for the whole form), in the reader's language."""
    found = {
        field: gettext(message)
        for field, message in _by_form_field(error.extra.get("errors", {}).get("json", {}))
    }
    return found or {"form": gettext(error.detail)}


def _by_form_field(messages: dict, path: tuple = ()):
    """(form field, first message) for each error of an API-shaped error tree."""
    for key, value in messages.items():
        if isinstance(value, dict):
            yield from _by_form_field(value, (*path, key))
        else:
            yield _form_field((*path, key)), value[0] if isinstance(value, list) else value


def _form_field(path: tuple) -> str:
    """The form field of an error's place in the API's body: answers.<id> is answer-<id>,
    translations.<language>.<text> is <text>-<language>, an item of a list is the list's
    field, anything else its own name."""
    path = tuple(key for key in path if not isinstance(key, int))
    if path[0] == "answers":
        return f"answer-{path[1]}"
    if path[0] == "translations" and len(path) == 3:
        return f"{path[2]}-{path[1]}"
    return path[-1]


# --- organisers -----------------------------------------------------------------------------


def _signed_in_organiser(session_id: str):
    with _session() as session:
        return service.signed_in_organiser(session, session_id)


# A member's access token, or the session id of a bootstrap token's sign-in (never the
# token itself). Door members and viewers read; their forms change nothing but sign out.
organisers = organiser_sessions(
    _signed_in_organiser,
    changes=MANAGE,
    # What every member may do for themselves: sign out, their own API tokens and two-step
    # sign-in.
    open_to_all=frozenset(
        {
            "pages.logout",
            "team_pages.sign_out_everywhere",
            "team_pages.create_token",
            "team_pages.revoke_token",
            "team_pages.start_two_step",
            "team_pages.confirm_two_step",
            "team_pages.turn_off_two_step",
        }
    ),
)
organiser_page = organisers.signed_in
sign_in_form = SignInForm("loopgate_sign_in", "/organiser/login")


@blueprint.get("/organiser/login")
def login():
    return _sign_in_page(None, 200)


@blueprint.post("/organiser/login")
def sign_in():
    if not sign_in_form.sent_back():
        return _sign_in_page(gettext("The sign-in form had expired. Please try again."), 400)
    email = request.form.get("email", "").strip() or None
    wait = failed_authentications().wait_seconds(account=email)
    if wait:
        message = gettext(
            "Too many failed sign-ins from your address or for this account. "
            "Try again in %(seconds)s seconds.",
            seconds=wait,
        )
        return _sign_in_page(message, 429, {"Retry-After": str(wait)})
    if email is not None:
        form = request.form
        signed_in = service.sign_in(
            _uow(), email, form.get("password", ""), code=form.get("code", "").strip() or None
        )
        if (
            isinstance(signed_in, service.SignInRefused)
            and signed_in.reason == service.CODE_MISSING
        ):
            message = gettext("Enter the code from your authenticator app, or a recovery code.")
            return _sign_in_page(message, 401, email=email, asks_code=True)
        session_id = signed_in.token if isinstance(signed_in, service.SignedIn) else None
        lifetime, refused = (
            service.SIGN_IN_SECONDS,
            gettext("That code is not right.")
            if getattr(signed_in, "reason", None) == service.CODE_WRONG
            else gettext("That email address and password do not match an account."),
        )
    else:
        session_id = service.start_organiser_session(_uow(), request.form.get("token", "").strip())
        lifetime, refused = (
            service.ORGANISER_SESSION_SECONDS,
            gettext("That is not an organiser token."),
        )
    if session_id is None:
        failed_authentications().record(account=email)
        return _sign_in_page(refused, 401)
    home = url_for("pages.organiser_home")
    target = organisers.safe_next(home)
    if email is None and not _in_registrations_area(target):
        # The bootstrap token's session is registration's own: check-in's and ticketing's
        # pages read members' access tokens only, and would send it back here.
        target = home
    response = redirect(target, 303)
    organisers.begin(response, session_id, lifetime)
    return sign_in_form.done(response)


def _in_registrations_area(path: str) -> bool:
    return path == "/organiser" or path.startswith("/organiser/")


def _sign_in_page(
    error: str | None,
    status: int,
    headers: dict | None = None,
    email: str = "",
    asks_code: bool = False,
) -> Response:
    return sign_in_form.page(
        "organiser_login.html",
        status,
        headers,
        error=error,
        email=email,
        asks_code=asks_code,
        members_only=not _in_registrations_area(organisers.safe_next("/organiser/")),
    )


@blueprint.post("/organiser/logout")
@organiser_page
def logout():
    service.end_organiser_session(_uow(), g.session_id)
    return organisers.end(redirect(url_for("pages.login"), 303))


@blueprint.get("/organiser/")
@organiser_page
def organiser_home():
    return _organiser_home({}, {})


# The zones of the new-event form: where most showcases happen first, then every other.
FIRST_TIME_ZONES = ("Asia/Hong_Kong", "Asia/Shanghai")
TIME_ZONES = (*FIRST_TIME_ZONES, *sorted(available_timezones() - set(FIRST_TIME_ZONES)))


def _organiser_home(form, errors: dict):
    with _session() as session:
        events = service.organiser_events(session, g.principal)
    page = render_template(
        "organiser_events.html",
        events=events,
        form=form,
        errors=errors,
        categories=CATEGORIES,
        chosen_categories=form.getlist("categories") if form else [],
        time_zones=TIME_ZONES,
    )
    return page, 422 if errors else 200


@blueprint.post("/organiser/events")
@organiser_page
def organiser_new_event():
    """A draft event with its first ticket type, from the form on the organiser's home."""
    form, errors = request.form, {}
    timezone = form.get("timezone")
    if timezone not in TIME_ZONES:
        errors["timezone"] = gettext("Choose a time zone from the list.")
        timezone = "UTC"  # only to check the times for mistakes of their own
    try:
        event_fields = schemas.EventCreate().load(_event_form(form, timezone))
        # Said here with the form's other mistakes; the rules (event_admin) check it again.
        if event_fields["ends_at"] <= event_fields["starts_at"]:
            errors["ends_at"] = gettext("The end must be after the start.")
    except ValidationError as error:
        errors |= _event_form_errors(error.messages)
    try:
        ticket_fields = schemas.TicketTypeCreate().load(
            {"name": form.get("ticket_name", ""), "quota": _whole_number(form.get("quota"))}
        )
    except ValidationError as error:
        # The form calls the ticket type's name ticket_name, beside the event's title.
        named = {"ticket_name" if key == "name" else key: m for key, m in error.messages.items()}
        errors |= _event_form_errors(named)
    if errors:
        return _organiser_home(form, errors)
    try:
        event = service.create_event(_uow(), g.principal, event_fields)
    except InvalidRequest as error:
        return _organiser_home(form, _domain_errors(error))
    service.add_ticket_type(_uow(), g.principal, event.id, ticket_fields)
    return redirect(url_for("pages.organiser_event", event_id=event.id), 303)


def _event_form_errors(messages: dict) -> dict[str, str]:
    """The schemas' findings on the new-event form, each saying what is wrong in the form's
    own terms."""
    friendly = {
        "title": gettext("Enter a title (at most 200 characters)."),
        "starts_at": gettext("Enter the start as a date and time."),
        "ends_at": gettext("Enter the end as a date and time."),
        "venue": gettext("Enter the venue in at most 200 characters."),
        "ticket_name": gettext("Name the first ticket type (at most 120 characters)."),
        "quota": gettext("Enter the number of places as a whole number."),
    }
    return _in_words(messages, friendly)


def _event_form(form, timezone: str) -> dict:
    """The new-event form in the shape of the API's EventCreate; local times are read in the
    event's time zone."""
    return {
        "title": form.get("title", ""),
        "starts_at": _local_time(form.get("starts_at"), timezone),
        "ends_at": _local_time(form.get("ends_at"), timezone),
        "timezone": timezone,
        "venue": form.get("venue", ""),
        "categories": form.getlist("categories"),
        "translations": _translations(form, ("title",)),
    }


def _local_time(text: str | None, timezone: str) -> str:
    try:
        moment = datetime.fromisoformat(text or "")
    except ValueError:
        return text or ""
    return moment.replace(tzinfo=ZoneInfo(timezone)).isoformat()


def _whole_number(text: str | None):
    return int(text) if (text or "").strip().isdigit() else text


@blueprint.get("/organiser/events/<uuid:event_id>")
@organiser_page
def organiser_event(event_id):
    if g.principal.role not in ATTENDEES:
        return _door_members_work_at_the_doors(str(event_id))
    where = _registration_filter(request.args)
    with _session() as session:
        report = service.registrations_report(session, g.principal, str(event_id), where)
    return render_template(
        "organiser_event.html",
        report=report,
        where=where,
        kept=_filter_arguments(where),
        statuses=STATUSES,
        question_kinds=question_kind_names(),
        done=request.args.get("done"),
    )


def _title(event) -> str:
    return localised(event.title, event.translations, str(get_locale()), "title")


def _registration_filter(values) -> service.RegistrationFilter:
    """The registrations list's filter, from the page's query or an action's form; what is
    not one of the choices is left out."""
    status = values.get("status")
    return service.RegistrationFilter(
        status=status if status in STATUSES else None,
        ticket_type_id=_uuid_or_none(values.get("ticket_type_id")),
        search=values.get("q", "").strip()[:200] or None,
    )


def _filter_arguments(where: service.RegistrationFilter) -> dict[str, str]:
    """The filter as the list's query arguments, those that are set: an action carries them
    through its form, so the list comes back as the organiser left it."""
    arguments = {"status": where.status, "ticket_type_id": where.ticket_type_id, "q": where.search}
    return {name: value for name, value in arguments.items() if value}


@blueprint.get("/organiser/events/<uuid:event_id>/registrations.csv")
@organiser_page
def organiser_csv(event_id):
    if g.principal.role not in ATTENDEES:
        return _door_members_work_at_the_doors(str(event_id))
    with _session() as session:
        report = service.registrations_report(session, g.principal, str(event_id))
    return Response(
        service.registrations_csv(report),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="registrations-{event_id}.csv"'},
    )


EVENT_ACTIONS = {
    "publish": service.publish_event,
    "unpublish": service.unpublish_event,
    "cancel": service.cancel_event,
}
REGISTRATION_ACTIONS = {
    "approve": service.approve,
    "reject": service.reject,
    "erase": service.erase_attendee,
    "cancel": service.cancel_for_attendee,
}


@blueprint.post("/organiser/events/<uuid:event_id>/<any(publish, unpublish, cancel):action>")
@organiser_page
def organiser_event_action(event_id, action):
    try:
        EVENT_ACTIONS[action](_uow(), g.principal, str(event_id))
        done = action
    except Conflict:
        done = "refused"
    return redirect(url_for("pages.organiser_event", event_id=event_id, done=done), 303)


@blueprint.post(
    "/organiser/registrations/<uuid:registration_id>/<any(approve, reject, erase, cancel):action>"
)
@organiser_page
def organiser_registration_action(registration_id, action):
    with _session() as session:
        registration = service.organiser_registration(session, g.principal, str(registration_id))
    try:
        REGISTRATION_ACTIONS[action](_uow(), g.principal, registration.id)
        done = action
    except Conflict:
        done = "refused"
    if request.form.get("back") == "registration":  # the action was taken on its own page
        target = url_for("registration_pages.registration", registration_id=registration.id)
        return redirect(f"{target}?done={done}", 303)
    kept = _filter_arguments(_registration_filter(request.form))
    target = url_for("pages.organiser_event", event_id=registration.event_id, done=done, **kept)
    return redirect(target, 303)


# What cannot be undone is asked once, on a page of its own (no script needed): its form
# posts to the action's route above.


def confirm_page(event, kept: dict, back_url: str | None = None, **asked) -> str:
    """The page asking once (shared/templates/organiser_confirm.html), under its event's page
    with the registrations list as it was left (`kept`)."""
    up_url = url_for("pages.organiser_event", event_id=event.id, **({} if back_url else kept))
    return render_template(
        "organiser_confirm.html",
        up_url=up_url,
        up_label=_title(event),
        back_url=back_url,
        kept=kept,
        **asked,
    )


@blueprint.get("/organiser/events/<uuid:event_id>/cancel")
@organiser_page
def organiser_confirm_cancel(event_id):
    with _session() as session:
        report = service.registrations_report(session, g.principal, str(event_id))
    live = sum(registration.status in LIVE for registration in report.registrations)
    return confirm_page(
        event=report.event,
        question=gettext("Cancel %(event)s?", event=_title(report.event)),
        consequences=[
            gettext("The event leaves the public pages and takes no more registrations."),
            ngettext(
                "Its %(num)d live registration is cancelled and its ticket revoked: it no "
                "longer opens the door.",
                "Its %(num)d live registrations are cancelled and their tickets revoked: they "
                "no longer open the door.",
                live,
            ),
        ],
        action=url_for("pages.organiser_event_action", event_id=event_id, action="cancel"),
        confirm=gettext("Cancel the event"),
        kept={},
    )


@blueprint.get("/organiser/registrations/<uuid:registration_id>/erase")
@organiser_page
def organiser_confirm_erase(registration_id):
    with _session() as session:
        registration = service.organiser_registration(session, g.principal, str(registration_id))
        event = service.organiser_event(session, g.principal, registration.event_id)
    return confirm_page(
        event=event,
        question=gettext("Erase the personal data of %(name)s?", name=registration.attendee_name),
        consequences=[
            gettext(
                "Their name becomes [erased]; their email address and answers are deleted, "
                "here and in the copies ticketing and the door keep (the ticket, its mail, "
                "the door's list)."
            ),
            gettext(
                "The registration keeps its status, ticket type and check-in time, so counts "
                "stay right, and the ticket still opens the door."
            ),
        ],
        action=url_for(
            "pages.organiser_registration_action", registration_id=registration.id, action="erase"
        ),
        confirm=gettext("Erase personal data"),
        kept=_filter_arguments(_registration_filter(request.args)),
    )


# --- setting an event up: its details, ticket types, sessions and questions -----------------
# Each is a form on a page of its own, linked from the event's page: the values as they are,
# what was typed kept when something is wrong, each mistake said beside its field.

OTHER_LANGUAGES = tuple(code for code in LANGUAGE_NAMES if code != DEFAULT_LANGUAGE)


@dataclass(frozen=True)
class FormField:
    """One field of a set-up form, as organiser_form.html draws it. `kind`: text, textarea,
    number, datetime-local, select, checkbox or checkboxes; `choices`: (value, label) of a
    select or checkboxes."""

    name: str
    label: str
    kind: str = "text"
    hint: str | None = None
    choices: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class SetUpForm:
    """A set-up form: its fields, how the typed form becomes the API's body (local times read
    in `timezone`), and what to say beside a field the schema refuses."""

    fields: list[FormField]
    read: Callable[[MultiDict, str], dict]
    friendly: dict[str, str]


def _in_other_languages(text: str, kind: str = "text") -> list[FormField]:
    """The fields of `text` (title, description, name, venue, label, options) in the other
    languages, Traditional Chinese first as LANGUAGE_NAMES has them."""
    labels = {
        "title": (
            gettext("Title in Traditional Chinese (optional)"),
            gettext("Title in Simplified Chinese (optional)"),
        ),
        "description": (
            gettext("Description in Traditional Chinese (optional)"),
            gettext("Description in Simplified Chinese (optional)"),
        ),
        "name": (
            gettext("Name in Traditional Chinese (optional)"),
            gettext("Name in Simplified Chinese (optional)"),
        ),
        "venue": (
            gettext("Venue in Traditional Chinese (optional)"),
            gettext("Venue in Simplified Chinese (optional)"),
        ),
        "label": (
            gettext("Question in Traditional Chinese (optional)"),
            gettext("Question in Simplified Chinese (optional)"),
        ),
        "options": (
            gettext("Options in Traditional Chinese, in the same order (optional)"),
            gettext("Options in Simplified Chinese, in the same order (optional)"),
        ),
    }[text]
    return [
        FormField(f"{text}-{code}", label, kind)
        for code, label in zip(OTHER_LANGUAGES, labels, strict=True)
    ]


def _event_form_fields() -> SetUpForm:
    return SetUpForm(
        [
            FormField("title", gettext("Title")),
            *_in_other_languages("title"),
            FormField("description", gettext("Description (optional)"), "textarea"),
            *_in_other_languages("description", "textarea"),
            FormField("venue", gettext("Venue")),
            *_in_other_languages("venue"),
            FormField(
                "timezone",
                gettext("Time zone"),
                "select",
                choices=tuple((zone, zone) for zone in TIME_ZONES),
            ),
            FormField("starts_at", gettext("Starts (local time)"), "datetime-local"),
            FormField("ends_at", gettext("Ends (local time)"), "datetime-local"),
            FormField(
                "categories",
                gettext("Categories"),
                "checkboxes",
                choices=tuple((category, category_name(category)) for category in CATEGORIES),
            ),
            FormField(
                "early_entry_minutes",
                gettext("Early entry (minutes)"),
                "number",
                gettext("Tickets open the door from this many minutes before the start."),
            ),
            FormField(
                "waitlist_claim_minutes",
                gettext("Time to claim a freed place (minutes, optional)"),
                "number",
                gettext(
                    "Empty: a freed place goes to the next on the waiting list at once. A "
                    "number: it is offered to them, to claim within this many minutes."
                ),
            ),
            FormField(
                "retention_days",
                gettext("Keep personal data for (days after the event, optional)"),
                "number",
                gettext(
                    "Empty: kept until you erase it. A number: names, email addresses and "
                    "answers are erased this many days after the event ends."
                ),
            ),
        ],
        _event_change_form,
        {
            "title": gettext("Enter a title (at most 200 characters)."),
            **{f"title-{code}": gettext("Use at most 200 characters.") for code in OTHER_LANGUAGES},
            "description": gettext("Use at most 5,000 characters."),
            **{
                f"description-{code}": gettext("Use at most 5,000 characters.")
                for code in OTHER_LANGUAGES
            },
            "venue": gettext("Enter the venue in at most 200 characters."),
            **{f"venue-{code}": gettext("Use at most 200 characters.") for code in OTHER_LANGUAGES},
            "timezone": gettext("Choose a time zone from the list."),
            "starts_at": gettext("Enter the start as a date and time."),
            "ends_at": gettext("Enter the end as a date and time."),
            "early_entry_minutes": gettext("Enter a whole number of minutes from 0 to 1440."),
            "waitlist_claim_minutes": gettext(
                "Leave it empty, or enter a whole number of minutes from 1 to 43200."
            ),
            "retention_days": gettext(
                "Leave it empty, or enter a whole number of days from 0 to 3650."
            ),
        },
    )


def _event_change_form(form, timezone: str) -> dict:
    """The event's form in the shape of the API's EventChange; local times are read in the
    time zone chosen on the form."""
    chosen = form.get("timezone")
    return {
        **_event_form(form, chosen if chosen in TIME_ZONES else timezone),
        "timezone": chosen or "",
        "description": form.get("description", ""),
        "translations": _translations(form, ("title", "description", "venue")),
        "early_entry_minutes": _whole_number(form.get("early_entry_minutes")),
        "waitlist_claim_minutes": _optional_number(form.get("waitlist_claim_minutes")),
        "retention_days": _optional_number(form.get("retention_days")),
    }


def _ticket_type_form_fields() -> SetUpForm:
    return SetUpForm(
        [
            FormField("name", gettext("Name")),
            *_in_other_languages("name"),
            FormField("quota", gettext("Places"), "number"),
            FormField(
                "sales_opens_at",
                gettext("Sales open (local time, optional)"),
                "datetime-local",
                gettext("Empty: when the event is published."),
            ),
            FormField(
                "sales_closes_at",
                gettext("Sales close (local time, optional)"),
                "datetime-local",
                gettext("Empty: when the event ends."),
            ),
            FormField(
                "per_order_limit",
                gettext("Registrations per email address (optional)"),
                "number",
                gettext("Empty: no limit."),
            ),
            FormField(
                "requires_approval",
                gettext("Each registration waits for an organiser's approval"),
                "checkbox",
            ),
        ],
        lambda form, timezone: {
            "name": form.get("name", ""),
            "translations": _translations(form, ("name",)),
            "quota": _whole_number(form.get("quota")),
            "sales_opens_at": _optional_time(form.get("sales_opens_at"), timezone),
            "sales_closes_at": _optional_time(form.get("sales_closes_at"), timezone),
            "per_order_limit": _optional_number(form.get("per_order_limit")),
            "requires_approval": "requires_approval" in form,
        },
        {
            "name": gettext("Name the ticket type (at most 120 characters)."),
            **{f"name-{code}": gettext("Use at most 120 characters.") for code in OTHER_LANGUAGES},
            "quota": gettext("Enter the number of places as a whole number."),
            "sales_opens_at": gettext("Leave it empty, or enter a date and time."),
            "sales_closes_at": gettext("Leave it empty, or enter a date and time."),
            "per_order_limit": gettext("Leave it empty, or enter a whole number from 1 to 1000."),
        },
    )


def _time_slot_form_fields() -> SetUpForm:
    return SetUpForm(
        [
            FormField("title", gettext("Title")),
            *_in_other_languages("title"),
            FormField("starts_at", gettext("Starts (local time)"), "datetime-local"),
            FormField("ends_at", gettext("Ends (local time)"), "datetime-local"),
            FormField("capacity", gettext("Seats"), "number"),
        ],
        lambda form, timezone: {
            "title": form.get("title", ""),
            "translations": _translations(form, ("title",)),
            "starts_at": _local_time(form.get("starts_at"), timezone),
            "ends_at": _local_time(form.get("ends_at"), timezone),
            "capacity": _whole_number(form.get("capacity")),
        },
        {
            "title": gettext("Enter a title (at most 200 characters)."),
            **{f"title-{code}": gettext("Use at most 200 characters.") for code in OTHER_LANGUAGES},
            "starts_at": gettext("Enter the start as a date and time."),
            "ends_at": gettext("Enter the end as a date and time."),
            "capacity": gettext("Enter the number of seats as a whole number."),
        },
    )


def question_kind_names() -> dict[str, str]:
    return {
        TEXT: gettext("Text"),
        CHOICE: gettext("One choice"),
        MULTIPLE_CHOICE: gettext("Several choices"),
        YES_NO: gettext("Yes or no"),
        CONSENT: gettext("Consent (a box to tick)"),
    }


def _question_form_fields(new: bool) -> SetUpForm:
    """A question's form; its kind is chosen when it is added and stays."""
    kind = FormField(
        "kind", gettext("Kind"), "select", choices=tuple(question_kind_names().items())
    )
    options_error = gettext("Enter at most 50 options, one a line, each at most 200 characters.")
    return SetUpForm(
        [
            *([kind] if new else []),
            FormField(
                "label",
                gettext("Question"),
                "textarea",
                gettext("For a consent, the text the attendee agrees to."),
            ),
            *_in_other_languages("label", "textarea"),
            FormField(
                "options",
                gettext("Options (choices only)"),
                "textarea",
                gettext("One a line."),
            ),
            *_in_other_languages("options", "textarea"),
            FormField(
                "required",
                gettext("An answer is required (for a consent: it must be given)"),
                "checkbox",
            ),
        ],
        lambda form, timezone: {
            **({"kind": form.get("kind", "")} if new else {}),
            "label": form.get("label", ""),
            "options": _lines(form.get("options")),
            "required": "required" in form,
            "translations": _translations(form, ("label", "options")),
        },
        {
            "kind": gettext("Choose a kind of question."),
            "label": gettext("Enter the question (at most 2,000 characters)."),
            **{
                f"label-{code}": gettext("Use at most 2,000 characters.")
                for code in OTHER_LANGUAGES
            },
            "options": options_error,
            **{f"options-{code}": options_error for code in OTHER_LANGUAGES},
        },
    )


def _translations(form, texts: tuple[str, ...]) -> dict:
    """The texts filled in for the other languages (title-zh_Hant_HK...), in the API's shape;
    options are one a line."""
    found = {}
    for code in OTHER_LANGUAGES:
        for text in texts:
            value = form.get(f"{text}-{code}", "").strip()
            if value:
                found.setdefault(code, {})[text] = _lines(value) if text == "options" else value
    return found


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _optional_number(text: str | None):
    return None if not (text or "").strip() else _whole_number(text)


def _optional_time(text: str | None, timezone: str):
    return None if not (text or "").strip() else _local_time(text, timezone)


def _form_values(row, fields: list[FormField], timezone: str) -> MultiDict:
    """A row's values as its form shows them: local times in `timezone`, lists one a line."""
    values = MultiDict()
    for spec in fields:
        text, _, code = spec.name.partition("-")
        value = (row.translations or {}).get(code, {}).get(text) if code else getattr(row, text)
        if spec.kind == "checkboxes":
            values.setlist(spec.name, value)
        elif spec.kind == "checkbox":
            if value:
                values[spec.name] = "on"
        elif isinstance(value, datetime):
            values[spec.name] = _local_input(value, timezone)
        elif isinstance(value, list):
            values[spec.name] = "\n".join(value)
        elif value is not None:
            values[spec.name] = str(value)
    return values


def _local_input(moment: datetime, timezone: str) -> str:
    """A moment as a datetime-local field shows it, in the event's time zone."""
    local = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(ZoneInfo(timezone))
    return local.strftime("%Y-%m-%dT%H:%M")


def _set_up_page(event, heading: str, form: SetUpForm, values, schema: Schema, save):
    """GET: the form showing `values`; POST: the typed form read into `schema` and handed to
    `save`, then back to the event's page; a mistake is said beside its field, what was
    typed kept. Who may not change anything reads the values on the event's page."""
    back = url_for("pages.organiser_event", event_id=event.id)
    if not g.may_change:
        return redirect(back, 303)
    errors = {}
    if request.method == "POST":
        values = request.form
        try:
            save(schema.load(form.read(values, event.timezone)))
            return redirect(url_for("pages.organiser_event", event_id=event.id, done="saved"), 303)
        except ValidationError as error:
            errors = _in_words(error.messages, form.friendly)
        except (InvalidRequest, Conflict) as error:
            errors = _domain_errors(error)
    page = render_template(
        "organiser_form.html",
        event=event,
        heading=heading,
        fields=form.fields,
        form=values,
        errors=errors,
    )
    return page, 422 if errors else 200


def _event_to_set_up(event_id):
    with _session() as session:
        return service.organiser_event(session, g.principal, str(event_id))


def _part_of(event, rows: str, row_id) -> object:
    """The event's ticket type, session or question of that id (404 if it has none)."""
    found = [row for row in getattr(event, rows) if row.id == str(row_id)]
    if not found:
        abort(404)
    return found[0]


SET_UP = ["GET", "POST"]


@blueprint.route("/organiser/events/<uuid:event_id>/details", methods=SET_UP)
@organiser_page
def organiser_event_details(event_id):
    event = _event_to_set_up(event_id)
    form = _event_form_fields()
    return _set_up_page(
        event,
        gettext("The event's details"),
        form,
        _form_values(event, form.fields, event.timezone),
        schemas.EventChange(),
        lambda fields: service.update_event(_uow(), g.principal, event.id, fields),
    )


@dataclass(frozen=True)
class EventPart:
    """Ticket types, sessions or questions: where the event keeps them (`rows`), the headings
    of their forms (to add one, to change one), the form (given whether it adds one), the
    schemas and the service functions (to add, to change)."""

    rows: str
    headings: Callable[[], tuple[str, str]]
    form: Callable[[bool], SetUpForm]
    schemas: tuple[type[Schema], type[Schema]]
    add: Callable
    change: Callable


EVENT_PARTS = {
    "ticket-types": EventPart(
        "ticket_types",
        lambda: (gettext("New ticket type"), gettext("Change the ticket type")),
        lambda new: _ticket_type_form_fields(),
        (schemas.TicketTypeCreate, schemas.TicketTypeChange),
        service.add_ticket_type,
        service.update_ticket_type,
    ),
    "sessions": EventPart(
        "sessions",
        lambda: (gettext("New session"), gettext("Change the session")),
        lambda new: _time_slot_form_fields(),
        (schemas.TimeSlotCreate, schemas.TimeSlotChange),
        service.add_time_slot,
        service.update_time_slot,
    ),
    "questions": EventPart(
        "questions",
        lambda: (gettext("New question"), gettext("Change the question")),
        _question_form_fields,
        (schemas.QuestionCreate, schemas.QuestionChange),
        service.add_question,
        service.update_question,
    ),
}
PART = '<any("ticket-types", "sessions", "questions"):part>'


@blueprint.route(f"/organiser/events/<uuid:event_id>/{PART}/new", methods=SET_UP)
@organiser_page
def organiser_new_part(event_id, part):
    event, kind = _event_to_set_up(event_id), EVENT_PARTS[part]
    return _set_up_page(
        event,
        kind.headings()[0],
        kind.form(True),
        MultiDict(),
        kind.schemas[0](),
        lambda fields: kind.add(_uow(), g.principal, event.id, fields),
    )


@blueprint.route(f"/organiser/events/<uuid:event_id>/{PART}/<uuid:part_id>", methods=SET_UP)
@organiser_page
def organiser_part(event_id, part, part_id):
    event, kind = _event_to_set_up(event_id), EVENT_PARTS[part]
    row, form = _part_of(event, kind.rows, part_id), kind.form(False)
    return _set_up_page(
        event,
        kind.headings()[1],
        form,
        _form_values(row, form.fields, event.timezone),
        kind.schemas[1](),
        lambda fields: kind.change(_uow(), g.principal, row.id, fields),
    )


@blueprint.get("/organiser/events/<uuid:event_id>/questions/<uuid:question_id>/remove")
@organiser_page
def organiser_confirm_remove_question(event_id, question_id):
    event = _event_to_set_up(event_id)
    question = _part_of(event, "questions", question_id)
    return confirm_page(
        event=event,
        question=gettext(
            "Stop asking “%(question)s”?",
            question=localised(question.label, question.translations, str(get_locale()), "label"),
        ),
        consequences=[
            gettext("The registration form no longer asks it."),
            gettext("Answers already given stay with their registrations and in the CSV."),
        ],
        action=url_for(
            "pages.organiser_remove_question", event_id=event.id, question_id=question.id
        ),
        confirm=gettext("Remove the question"),
        kept={},
    )


@blueprint.post("/organiser/events/<uuid:event_id>/questions/<uuid:question_id>/remove")
@organiser_page
def organiser_remove_question(event_id, question_id):
    service.remove_question(_uow(), g.principal, str(question_id))
    return redirect(url_for("pages.organiser_event", event_id=event_id, done="removed"), 303)


@blueprint.post(
    "/organiser/events/<uuid:event_id>/questions/<uuid:question_id>/<any(up, down):way>"
)
@organiser_page
def organiser_move_question(event_id, question_id, way):
    event = _event_to_set_up(event_id)
    question = _part_of(event, "questions", question_id)
    service.move_question(_uow(), g.principal, question.id, -1 if way == "up" else 1)
    target = url_for("pages.organiser_event", event_id=event.id, done="moved")
    return redirect(f"{target}#questions-title", 303)


@blueprint.post("/organiser/events/<uuid:event_id>/duplicate")
@organiser_page
def organiser_duplicate_event(event_id):
    copy = service.duplicate_event(_uow(), g.principal, str(event_id))
    return redirect(url_for("pages.organiser_event", event_id=copy.id, done="duplicated"), 303)


@blueprint.get("/organiser/events/<uuid:event_id>/preview")
@organiser_page
def organiser_preview(event_id):
    """The public page of the event as it is now, published or not, its form sending nothing."""
    event = _event_to_set_up(event_id)
    return render_template("organiser_preview.html", event=event, form={}, errors={}, key="")


def _uuid_or_none(text: str | None) -> str | None:
    try:
        return str(uuid.UUID(text)) if text else None
    except ValueError:
        return None


def _door_members_work_at_the_doors(event_id: str):
    """A door member sees no attendee list: the doors' own pages instead."""
    page = render_template("organiser_doors_only.html", event_id=event_id)
    return page, 403


@blueprint.errorhandler(DomainError)
def domain_error_on_a_page(error: DomainError):
    return render_template("error.html", message=gettext(error.detail)), error.status


@blueprint.app_errorhandler(404)
def not_found(error):
    """A page for a browser outside the APIs; problem+json for everyone else, as before."""
    wants_page = request.accept_mimetypes.best_match(["application/json", "text/html"])
    if request.path.startswith("/api/") or wants_page != "text/html":
        return problem(404, error.description)
    return render_template("error.html", message=gettext("There is no such page.")), 404
