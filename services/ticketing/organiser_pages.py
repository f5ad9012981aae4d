"""The organiser's pages of ticketing: an event's signing keys (rotate, retire) and an
attendee's ticket (its history and mail; resend, reissue, revoke). Server-rendered, without
JavaScript, in the organiser area's layout and sign-in (shared/pages.py). Routes only: each
calls service.py, as the JSON API does.

Every change answers with a redirect to its page (a reload sends nothing again), and each
form names what it changes, so a form sent twice does it once: a reissue or a revocation
names the valid ticket (the second finds it revoked), a resend how many mails the ticket had
(the second finds one more), a retirement the key (the second finds it retired). Rotating
twice makes two keys, which costs nothing: tickets signed by either keep scanning.
"""

from flask import Blueprint, g, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext, ngettext

from services.ticketing import service
from services.ticketing.ticket_view import event_title, ticket_type_name
from shared.auth import ATTENDEES, MANAGE
from shared.errors import N_, Conflict, DomainError, InvalidRequest, NotFound
from shared.http import current_runtime
from shared.i18n import LANGUAGE_NAMES
from shared.pages import organiser_sessions, signed_in_member

blueprint = Blueprint("ticketing_organiser_pages", __name__, template_folder="templates")

# Door members and viewers see the pages; only managers' forms change anything.
organisers = organiser_sessions(signed_in_member, changes=MANAGE)
organiser_page = organisers.signed_in
TICKET_ACTIONS = {"reissue": service.reissue_ticket, "revoke": service.revoke_ticket}


# --- signing keys ---------------------------------------------------------------------------


@blueprint.get("/events/<uuid:event_id>/keys")
@organiser_page
def keys(event_id):
    with current_runtime().session_factory() as session:
        keys = service.event_keys_in_use(session, g.principal, str(event_id))
    return render_template(
        "organiser_keys.html", keys=keys, title=_title(keys.event), done=request.args.get("done")
    )


@blueprint.post("/events/<uuid:event_id>/keys")
@organiser_page
def rotate(event_id):
    service.rotate_signing_key(current_runtime().unit_of_work(), g.principal, str(event_id))
    return _to_keys(event_id, "rotated")


@blueprint.get("/events/<uuid:event_id>/keys/<key_id>/retire")
@organiser_page
def confirm_retirement(event_id, key_id):
    with current_runtime().session_factory() as session:
        keys = service.event_keys_in_use(session, g.principal, str(event_id))
    key = keys.key(key_id)
    # What service.retire_signing_key does, said before it is done.
    consequences = [
        gettext(
            "Every door stops accepting codes signed with this key within seconds, and door "
            "devices working offline once they next sync."
        ),
        ngettext(
            "It signed %(num)d ticket that is still valid. It is reissued at once under "
            "another key and mailed again to its attendee, in their language; the old code "
            "no longer scans.",
            "It signed %(num)d tickets that are still valid. Each is reissued at once under "
            "another key and mailed again to its attendee, in their language; the old codes "
            "no longer scan.",
            key.valid_tickets,
        )
        if key.valid_tickets
        else gettext("No valid ticket is signed with it: no attendee is affected."),
    ]
    if key.signs_new_tickets:
        consequences.append(
            gettext(
                "It signs new tickets now: another key signs them from now on (a new one, if "
                "no other is left)."
            )
        )
    return _confirm_page(
        question=gettext("Retire key %(key)s?", key=key_id),
        consequences=consequences,
        action=url_for(".retire", event_id=event_id, key_id=key_id),
        confirm=gettext("Retire the key"),
        up_url=url_for(".keys", event_id=event_id),
        up_label=gettext("Signing keys of %(title)s", title=_title(keys.event)),
    )


@blueprint.post("/events/<uuid:event_id>/keys/<key_id>/retire")
@organiser_page
def retire(event_id, key_id):
    try:
        service.retire_signing_key(
            current_runtime().unit_of_work(), g.principal, str(event_id), key_id
        )
    except Conflict:  # retired already: by this very form sent twice, or by someone else
        return _to_keys(event_id, "already_retired")
    return _to_keys(event_id, "retired")


def _to_keys(event_id, done: str):
    return redirect(url_for(".keys", event_id=event_id, done=done), 303)


# --- an attendee's ticket -----------------------------------------------------------------


@blueprint.get("/registrations/<uuid:registration_id>/ticket")
@organiser_page
def ticket(registration_id):
    try:
        record = _record(registration_id)
    except NotFound:
        # Also a registration confirmed a moment ago, whose ticket is seconds away.
        return render_template("organiser_ticket_missing.html"), 404
    current = record.current
    return render_template(
        "organiser_ticket.html",
        record=record,
        title=_title(record.event),
        ticket_type=ticket_type_name(record.event, current.ticket_type_id, get_locale()),
        mail_language=LANGUAGE_NAMES[record.mail_locale],
        shows_attendee=g.principal.role in ATTENDEES,
        done=request.args.get("done"),
    )


@blueprint.post("/registrations/<uuid:registration_id>/ticket/resend")
@organiser_page
def resend(registration_id):
    ticket_id, mails_seen = _named_ticket(registration_id), request.form.get("mails_seen", "")
    if not mails_seen.isdigit():
        raise InvalidRequest(N_("The form was cut short. Please try again."))
    queued = service.resend_ticket_mail(
        current_runtime().unit_of_work(), g.principal, ticket_id, int(mails_seen)
    )
    return _to_ticket(registration_id, "resent" if queued else "already_resent")


@blueprint.get("/registrations/<uuid:registration_id>/ticket/<any(reissue, revoke):action>")
@organiser_page
def confirm_ticket_action(registration_id, action):
    ticket = _record(registration_id).current
    if ticket.status != service.VALID:
        return _to_ticket(registration_id, "already_changed")
    name = ticket.attendee_name
    if action == "reissue":
        question = gettext("Reissue the ticket of %(name)s?", name=name)
        confirm = gettext("Reissue the ticket")
        consequences = [
            gettext("The attendee is mailed a new ticket with a new code, in their language."),
            gettext(
                "The current code stops scanning at every door within seconds, and at door "
                "devices working offline once they next sync."
            ),
        ]
    else:
        question = gettext("Revoke the ticket of %(name)s?", name=name)
        confirm = gettext("Revoke the ticket")
        consequences = [
            gettext(
                "The ticket will no longer admit %(name)s: every door refuses its code within "
                "seconds, and door devices working offline once they next sync.",
                name=name,
            ),
            gettext("No new ticket is issued. The registration itself stays as it is."),
        ]
    return _confirm_page(
        question=question,
        consequences=consequences,
        action=url_for(".change_ticket", registration_id=registration_id, action=action),
        confirm=confirm,
        kept={"ticket_id": ticket.id},
        up_url=url_for(".ticket", registration_id=registration_id),
        up_label=gettext("Ticket of %(name)s", name=name),
    )


@blueprint.post("/registrations/<uuid:registration_id>/ticket/<any(reissue, revoke):action>")
@organiser_page
def change_ticket(registration_id, action):
    ticket_id = _named_ticket(registration_id)
    try:
        TICKET_ACTIONS[action](current_runtime().unit_of_work(), g.principal, ticket_id)
    except Conflict:  # the ticket this form named is revoked already: nothing more to do
        return _to_ticket(registration_id, "already_changed")
    return _to_ticket(registration_id, f"{action}d")


def _record(registration_id) -> service.TicketRecord:
    with current_runtime().session_factory() as session:
        return service.registration_ticket_record(session, g.principal, str(registration_id))


def _named_ticket(registration_id) -> str:
    """The ticket a form names, if it is one of this registration's (a form names one ticket,
    the page's address its registration: they must agree)."""
    ticket_id = request.form.get("ticket_id", "")
    if not _record(registration_id).holds(ticket_id):
        raise NotFound(service.NO_SUCH_TICKET)
    return ticket_id


def _to_ticket(registration_id, done: str):
    return redirect(url_for(".ticket", registration_id=registration_id, done=done), 303)


def _confirm_page(**asked):
    """What cannot be undone, asked once (shared/templates/organiser_confirm.html)."""
    return render_template("organiser_confirm.html", **asked)


def _title(event) -> str:
    return event_title(event, get_locale())


@blueprint.errorhandler(DomainError)
def domain_error_on_a_page(error: DomainError):
    """Another organisation's event or ticket, or none: a page, not problem+json
    (shared/templates/organiser_error.html)."""
    return render_template("organiser_error.html", message=gettext(error.detail)), error.status
