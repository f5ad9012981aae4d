"""An organiser's page of one registration: who, what they chose and answered, every consent
they gave or withdrew with its wording, where they stand (waitlist, offer, arrival), and what
can be done with it; the ticket and its mails are on ticketing's page, linked from here.
Routes only: they call service.py."""

from flask import Blueprint, abort, g, render_template, request, url_for
from flask_babel import gettext

from services.registration import service
from services.registration.models import LIVE
from services.registration.pages import confirm_page, domain_error_on_a_page, organiser_page
from shared.auth import ATTENDEES
from shared.errors import DomainError
from shared.http import current_runtime

blueprint = Blueprint("registration_pages", __name__, template_folder="templates")
blueprint.register_error_handler(DomainError, domain_error_on_a_page)


def _record(registration_id) -> service.AttendeeRecord:
    if g.principal.role not in ATTENDEES:  # the door works from check-in's search instead
        abort(403)
    with current_runtime().session_factory() as session:
        return service.attendee_record(session, g.principal, str(registration_id))


@blueprint.get("/organiser/registrations/<uuid:registration_id>")
@organiser_page
def registration(registration_id):
    record = _record(registration_id)
    return render_template(
        "organiser_registration.html",
        record=record,
        live=record.registration.status in LIVE,
        done=request.args.get("done"),
    )


@blueprint.get("/organiser/registrations/<uuid:registration_id>/cancel")
@organiser_page
def confirm_cancel(registration_id):
    record = _record(registration_id)
    registration = record.registration
    return confirm_page(
        event=record.event,
        question=gettext("Cancel the registration of %(name)s?", name=registration.attendee_name),
        consequences=[
            gettext("Their ticket is revoked: it no longer opens the door."),
            gettext(
                "Their place, and their seats in sessions, go at once to the first on the "
                "waiting list."
            ),
        ],
        action=url_for(
            "pages.organiser_registration_action",
            registration_id=registration.id,
            action="cancel",
        ),
        confirm=gettext("Cancel the registration"),
        kept={"back": "registration"},
        back_url=url_for("registration_pages.registration", registration_id=registration.id),
    )
