"""What the pages of every service share: the layout (`base.html`) and the organiser area's
navigation from shared/templates, times in the reader's language, this page in another
language, and the organiser area's sign-in.

The organiser area spans the services: registration's pages under /organiser, check-in's
doors and ticketing's keys and tickets under their own prefixes, one navigation and one
sign-in for all. Its cookie holds the member's access token, which every service verifies
with the published identity key (shared/identity.py), so no page asks another service who is
signed in. Each service registers `blueprint` beside its own pages.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time, get_datetime_format
from flask import Blueprint, g, request
from flask_babel import get_locale

from shared.auth import Principal
from shared.browser_sessions import BrowserSessions
from shared.http import page_url, principal_of
from shared.i18n import LANGUAGE_NAMES
from shared.identity import is_access_token

blueprint = Blueprint("shared_pages", __name__, template_folder="templates")

ORGANISER_COOKIE = "loopgate_organiser"
SIGN_IN_PATH = "/organiser/login"
# Where organiser pages are: registration's own area, and check-in's and ticketing's below
# the prefix the gateway routes to them.
ORGANISER_AREAS = ("/organiser", "/api/checkin/organiser", "/api/ticketing/organiser")


def organiser_sessions(
    who: Callable[[str], Principal | None],
    changes: frozenset[str] | None = None,
    open_to_all: frozenset[str] = frozenset(),
) -> BrowserSessions:
    """The organiser area's sessions, as one service's pages see them (`who` reads the
    cookie; see BrowserSessions for `changes` and `open_to_all`)."""
    return BrowserSessions(
        ORGANISER_COOKIE, ORGANISER_AREAS, SIGN_IN_PATH, who, changes, open_to_all
    )


def signed_in_member(session_id: str) -> Principal | None:
    """The member an organiser cookie stands for, read by any service from the access token
    it holds. (Registration also knows the sessions the bootstrap token starts; its pages
    alone open to those.)"""
    return principal_of(session_id) if is_access_token(session_id) else None


@blueprint.app_template_filter("local_time")
def local_time(moment: datetime, timezone: str) -> str:
    """A moment in the event's time zone, as the reader's language writes a date and a time
    of day, without seconds ("1 May 2030, 6:00 PM", "2030年5月1日 下午6:00")."""
    zone, locale = ZoneInfo(timezone), str(get_locale())
    local = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(zone)
    return get_datetime_format("medium", locale=locale).format(
        format_time(local, "short", tzinfo=zone, locale=locale),
        format_date(local, "medium", locale=locale),
    )


@blueprint.app_context_processor
def page_context() -> dict:
    locale = str(get_locale())
    return {
        "locale": locale,
        "html_lang": locale.replace("_", "-"),
        "languages": LANGUAGE_NAMES,
        "language_url": language_url,
    }


def language_url(code: str) -> str:
    """This page in another language (a page answering a form names its own address)."""
    endpoint = g.get("page", request.endpoint)
    if endpoint is None:  # a page for an unknown address
        return f"?lang={code}"
    arguments = {name: value for name, value in request.args.items() if name != "lang"}
    arguments.update(g.get("page_arguments", {}))
    return page_url(endpoint, {**arguments, "lang": code})
