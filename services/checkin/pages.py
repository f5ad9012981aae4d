"""The door's and the organiser's pages: the scanner and the live dashboard. Each is one
HTML page with its own script and style from static/, no other site involved; the scripts
talk to the JSON API like any other client."""

from flask import Blueprint, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _

from shared.http import page_url
from shared.i18n import LANGUAGE_NAMES, LOCALES

blueprint = Blueprint(
    "checkin_pages",
    __name__,
    static_folder="static",
    static_url_path="/static",
    template_folder="templates",
)


def _verdict_labels() -> dict:
    return {
        "ok": _("Welcome"),
        "ok_out": _("Goodbye"),
        "already_checked_in": _("Already checked in"),
        "revoked": _("Ticket revoked"),
        "invalid": _("Not a valid ticket"),
        "unknown_ticket": _("Unknown ticket"),
        "wrong_event": _("Ticket for another event"),
        "not_allowed_here": _("Not admitted at this gate"),
        "not_yet_valid": _("Too early"),
        "expired": _("Ticket expired"),
        "unverifiable": _("Cannot check offline"),
    }


def _scanner_texts() -> dict:
    return {
        "verdicts": _verdict_labels(),
        "since": _("Checked in at %(time)s, %(gate)s"),
        "window": _("Admits from %(opens)s to %(closes)s"),
        "was_not_inside": _("Was not inside"),
        "needs_https": _("Offline checks need the page on HTTPS."),
        "paired_as": _("Paired to %(event)s"),
        "pairing_failed": _("That code did not work. Ask for a new one."),
        "revoked_device": _("This device was unpaired. Pair it again."),
        "offline": _("Offline"),
        "online": _("Online"),
        "no_results": _("No tickets found."),
        "check_in": _("Check in"),
        "manual": _("Checked in by hand"),
    }


def dashboard_texts() -> dict:
    return {
        "live": _("Live"),
        "reconnecting": _("Reconnecting…"),
        "unauthorised": _("That organiser token was refused."),
        "no_event": _("Open this page with ?event= and the event's id."),
        "code_for": _("Pairing code for %(list)s: %(code)s (valid 10 minutes, once)"),
        "pair": _("Pair a device"),
        "revoke": _("Revoke"),
        "revoked": _("Revoked"),
        "arrivals_axis": _("Arrivals per 5 minutes"),
    }


def _page(template: str, texts: dict) -> str:
    locale = str(get_locale())
    return render_template(
        template,
        texts=texts,
        locale=locale,
        lang=locale.replace("_", "-"),
        languages=_language_links(),
    )


def _language_links() -> list[tuple[str, str, str]]:
    """(locale, its name, this page in it): the page's own query stays, as the dashboard
    needs its ?event= to show anything."""
    arguments = {name: value for name, value in request.args.items() if name != "lang"}
    return [
        (locale, LANGUAGE_NAMES[locale], page_url(request.endpoint, {**arguments, "lang": locale}))
        for locale in LOCALES
    ]


@blueprint.route("/scanner")
def scanner():
    """The door device's page: pair, then scan."""
    return _page("scanner.html", _scanner_texts())


@blueprint.route("/dashboard")
def dashboard():
    """The organiser's live view of an event's doors."""
    return _page("dashboard.html", dashboard_texts())
