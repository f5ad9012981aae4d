"""The role matrix: every organiser route of all three services, tried as every role of a
team, as a member limited to another event, as a member of another organisation, signed out,
and with the tokens of a removed member and of a member who signed out everywhere
(DESIGN.md, "Organisers and their teams"; docs/architecture.md, "Identity").

No route can be forgotten: the routes are read from each service's url_map, and what a
caller must be answered follows from the permission set the route declares (`require`
records it on the view as `allowed_roles`). A route that declares none must be listed in
PUBLIC with its reason, or the inventory test fails.

One embedded Loopgate and one showcase serve the whole module. Calls that would use up
their object (cancel, delete, revoke, remove, retire, reissue, approve) are given a fresh
one whenever they are really carried out, so every caller meets the same showcase."""

import logging
import re
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
import requests

from shared.auth import DOOR, MANAGER, OWNER, VIEWER
from shared.browser_sessions import csrf_token
from shared.pages import ORGANISER_AREAS, ORGANISER_COOKIE
from tests.support import (
    accept,
    embedded_loopgate,
    invitation_token,
    member_headers,
    new_organisation,
    wait_until,
)

MEMBER_CHANGE_SECONDS = 10

# Routes that declare no permission set, each with why it needs none.
PUBLIC = {
    # Every service
    "api-docs.openapi_json": "the OpenAPI document is public",
    "api-docs.openapi_swagger_ui": "the API docs page is public",
    "swagger_ui_assets": "the API docs page's scripts and styles",
    "static": "scripts, styles and images of the pages",
    "metrics1": "metrics: their own token, or this machine only",
    "metrics3": "metrics under /api/<service>/: the same",
    "registration_health.healthz": "health check",
    "registration_health.readyz": "readiness check",
    "ticketing_health.healthz": "health check",
    "ticketing_health.readyz": "readiness check",
    "checkin_health.healthz": "health check",
    "checkin_health.readyz": "readiness check",
    # Registration: the public and attendees
    "registration.list_published_events": "published events are public",
    "registration.get_published_event": "a published event is public",
    "registration.register": "attendees register without an account",
    "registration.get_registration": "an attendee's own registration: its manage token",
    "registration.change_answers": "an attendee's answers: the manage token",
    "registration.cancel_registration": "an attendee cancels with the manage token",
    "registration.claim_offered_place": "an attendee claims a place with the manage token",
    "registration.accept_invitation": "joining a team: the invitation link's token",
    "registration.sign_in": "signing in: email and password",
    "registration.request_password_reset": "a forgotten password: mails a link, says nothing",
    "registration.reset_password": "a new password: the mailed link's token",
    # Registration: the public's and attendees' pages
    "pages.home": "the public home page",
    "pages.event_page": "a published event's page",
    "pages.register": "the registration form",
    "pages.manage": "an attendee's page: the manage token",
    "pages.change_answers": "an attendee's form: the manage token",
    "pages.cancel": "an attendee's form: the manage token",
    "pages.claim": "an attendee's form: the manage token",
    # Ticketing: attendees' tickets
    "ticketing.get_ticket": "an attendee's ticket: the registration's manage token",
    "ticketing.ticket_png": "a ticket's QR image: the key in its URL",
    "ticketing.ticket_svg": "a ticket's QR image: the key in its URL",
    "ticketing_pages.ticket_page": "the ticket page: the key in its URL",
    "ticketing_pages.registration_ticket_page": "the ticket page: the manage token",
    "ticketing_pages.mailbox": "the embedded mode's local mailbox, for trying Loopgate out",
    "ticketing_pages.mailbox_mail": "the local mailbox: one mail",
    "ticketing_pages.mailbox_mail_file": "the local mailbox: one mail as a file",
    # Check-in
    "checkin.redeem_pairing_code": "a door device pairs with its one-time code",
    "checkin_pages.scanner": "the scanner page; its calls carry the device's token",
    "checkin_pages.dashboard": "the dashboard page; its calls carry the organiser's token",
    "checkin_pages.static": "the scanner's and dashboard's scripts",
}

# Every organiser page, whichever service serves it: it checks its signed-in cookie itself
# (shared/browser_sessions.py), or needs none (signing in, joining, a forgotten password).
PAGE_BLUEPRINTS = (
    "pages",
    "team_pages",
    "registration_pages",
    "checkin_organiser_pages",
    "ticketing_organiser_pages",
)


def is_organiser_page(route) -> bool:
    return route.rule.startswith(tuple(f"{area}/" for area in ORGANISER_AREAS)) and (
        route.endpoint.startswith(tuple(f"{blueprint}." for blueprint in PAGE_BLUEPRINTS))
    )


# Wrong answers found by this matrix, (endpoint, caller): reason. Each is marked xfail.
KNOWN_WRONG: dict[tuple[str, str], str] = {}


# --- the routes, from the services' url_maps ------------------------------------------------

ARGUMENT = re.compile(r"<(?:[^>]*:)?(\w+)>")
# Path arguments that name an object of one event.
EVENT_OBJECTS = {
    "event_id",
    "ticket_type_id",
    "session_id",
    "question_id",
    "registration_id",
    "ticket_id",
    "list_id",
    "device_id",
    "key_id",
}


@dataclass(frozen=True)
class Route:
    service: str
    endpoint: str
    method: str
    rule: str
    allowed: frozenset[str] | None

    def __str__(self):
        return f"{self.method} {self.rule}"

    @property
    def arguments(self) -> list[str]:
        return ARGUMENT.findall(self.rule)

    @property
    def names_an_event_object(self) -> bool:
        return any(argument in EVENT_OBJECTS for argument in self.arguments)

    def path(self, values: dict[str, str]) -> str:
        return ARGUMENT.sub(lambda found: str(values[found.group(1)]), self.rule)


def routes_of(apps: dict) -> list[Route]:
    found = []
    for service, app in apps.items():
        for rule in app.url_map.iter_rules():
            allowed = getattr(app.view_functions[rule.endpoint], "allowed_roles", None)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                found.append(Route(service, rule.endpoint, method, rule.rule, allowed))
    return found


def _collected_routes() -> list[Route]:
    """The routes of the three apps, built once at collection (nothing served) so that each
    route and caller is a test of its own."""
    from services.system import definitions
    from shared.settings import Settings

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        with tempfile.TemporaryDirectory() as data_dir:
            settings = Settings.from_env(
                {"LOOPGATE_DATA_DIR": data_dir, "LOOPGATE_RATE_LIMIT": "off"}
            )
            apps = {found.name: found.app_factory(settings=settings) for found in definitions()}
            for app in apps.values():
                app.extensions["loopgate"].dispose()
            return routes_of(apps)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


ROUTES = _collected_routes()
SERVICE_ORDER = ("registration", "ticketing", "checkin")
# Signing out everywhere ends the caller's sign-in: it goes last, then the caller signs in
# again.
LAST = ("registration.sign_out_everywhere",)
GUARDED = sorted(
    (route for route in ROUTES if route.allowed is not None),
    key=lambda r: (r.endpoint in LAST, SERVICE_ORDER.index(r.service), r.rule, r.method),
)

# --- the callers ----------------------------------------------------------------------------

ROLES = (OWNER, MANAGER, DOOR, VIEWER)
OTHER_EVENT = "manager-of-event-B-only"
OTHER_ORGANISATION = "owner-of-another-organisation"
NO_TOKEN = "no-token"
REMOVED = "removed-member"
SIGNED_OUT_EVERYWHERE = "signed-out-everywhere"
ROLE_OF = {**{role: role for role in ROLES}, OTHER_EVENT: MANAGER, OTHER_ORGANISATION: OWNER}
NO_ONE = (NO_TOKEN, REMOVED, SIGNED_OUT_EVERYWHERE)

ALLOWED, REFUSED, UNKNOWN, SEES_NONE, MISSING = (
    "allowed",
    "403",
    "401",
    "sees none of the showcase",
    "404",
)


def expected(route: Route, caller: str) -> str:
    """What `caller` must be answered on `route`, from the roles the route allows."""
    if caller in NO_ONE:
        return UNKNOWN
    if ROLE_OF[caller] not in route.allowed:
        return REFUSED
    if caller == OTHER_ORGANISATION:
        return MISSING if route.arguments else SEES_NONE
    if caller == OTHER_EVENT:
        return MISSING if route.names_an_event_object else SEES_NONE
    return ALLOWED


def _cases(callers) -> list:
    cases = []
    for route in GUARDED:
        for caller in callers:
            if caller == OTHER_EVENT and route.arguments and not route.names_an_event_object:
                continue  # members and personal tokens belong to no event
            marks = []
            reason = KNOWN_WRONG.get((route.endpoint, caller))
            if reason:
                marks.append(pytest.mark.xfail(reason=reason, strict=True))
            cases.append(pytest.param(route, caller, marks=marks, id=f"{route.endpoint}-{caller}"))
    return cases


# --- the showcase ---------------------------------------------------------------------------


def _times(starts_in=timedelta(days=2), lasts=timedelta(hours=1)) -> dict:
    # Within the showcase's events, which start tomorrow and last three days.
    starts_at = datetime.now(UTC) + starts_in
    return {"starts_at": starts_at.isoformat(), "ends_at": (starts_at + lasts).isoformat()}


@dataclass
class Showcase:
    """One organisation's event A with everything organisers work on, its second event B,
    a scratch event for objects used up, the team, and a rival organisation."""

    flow: object
    admin: dict  # the owner's personal API token: outlives every sign-out
    ids: dict[str, str] = field(default_factory=dict)
    emails: dict[str, str] = field(default_factory=dict)
    headers: dict[str, dict] = field(default_factory=dict)
    of_event_a: set[str] = field(default_factory=set)
    ours: set[str] = field(default_factory=set)
    spares: dict[str, list[str]] = field(default_factory=dict)
    _fingerprints: dict[str, object] = field(default_factory=dict)

    def send(self, method: str, path: str, headers: dict | None, **kwargs) -> requests.Response:
        return self.flow.http.request(
            method, self.flow.url(path), headers=headers or {}, timeout=30, **kwargs
        )

    def ok(self, method: str, path: str, status: int = 200, **kwargs) -> dict:
        response = self.send(method, path, self.admin, **kwargs)
        assert response.status_code == status, f"{method} {path}: {response.text}"
        return response.json() if response.content else {}

    def sign_in(self, caller: str) -> dict:
        return member_headers(self.flow, self.emails[caller])

    # Fresh objects for calls that use theirs up.

    def draft_event(self, with_ticket_type: bool = False) -> str:
        event = self.ok("POST", "/api/registration/events", 201, json=_event("Spare night"))
        if with_ticket_type:
            self.ok(
                "POST",
                f"/api/registration/events/{event['id']}/ticket-types",
                201,
                json={"name": "General", "quota": 5},
            )
        return event["id"]

    def published_event(self) -> str:
        event_id = self.draft_event(with_ticket_type=True)
        self.ok("POST", f"/api/registration/events/{event_id}/publish")
        return event_id

    def scratch_registration(self, ticket_type: str) -> str:
        registration = self.flow.registered(self.ids["scratch_event"], self.ids[ticket_type])
        return registration["id"]

    def question(self) -> str:
        path = f"/api/registration/events/{self.ids['event_id']}/questions"
        return self.ok("POST", path, 201, json={"kind": "text", "label": "Spare?"})["id"]

    def checkin_list(self) -> str:
        path = f"/api/checkin/events/{self.ids['event_id']}/lists"
        return self.ok("POST", path, 201, json={"name": "Spare gate"})["id"]

    def device(self, list_id: str | None = None) -> str:
        code = self.ok(
            "POST", f"/api/checkin/lists/{list_id or self.ids['list_id']}/pairing-codes", 201
        )["code"]
        paired = self.flow.post(
            "/api/checkin/pairing-codes/redeem", json={"code": code, "device_name": "Phone"}
        )
        assert paired.status_code == 201, paired.text
        return paired.json()["device_id"]

    def rotated_key(self) -> str:
        return self.ok("POST", f"/api/ticketing/events/{self.ids['event_id']}/keys", 201)["key_id"]

    # What a refused call must leave as it was.

    def fingerprint(self, service: str) -> object:
        event = self.ids["event_id"]
        reads = {
            "registration": [
                f"/api/registration/organisation/events/{event}",
                "/api/registration/organisation/events",
                f"/api/registration/events/{event}/registrations",
                "/api/registration/members",
                "/api/registration/members/me/tokens",
            ],
            "ticketing": [f"/api/ticketing/events/{event}/keys", "/api/ticketing/keys"]
            + [f"/api/ticketing/events/{event}/tickets"],
            "checkin": [
                f"/api/checkin/events/{event}/lists",
                f"/api/checkin/events/{event}/devices",
                f"/api/checkin/tickets/{self.ids['ticket_id']}",
            ],
        }[service]
        return [self.ok("GET", path) for path in reads]

    def remembered_fingerprint(self, service: str) -> object:
        if service not in self._fingerprints:
            self._fingerprints[service] = self.fingerprint(service)
        return self._fingerprints[service]

    def changed_maybe(self) -> None:
        self._fingerprints.clear()


EVENT_DAYS = {"starts_in": timedelta(days=1), "lasts": timedelta(days=3)}


def _event(title: str) -> dict:
    return {"title": title, **_times()}


def _join(flow, owner: dict, invitations: dict[str, dict]) -> dict[str, str]:
    """Invite everyone at once (one mail relay round), then let each join: their emails."""
    tag = uuid.uuid4().hex[:6]
    emails = {}
    for name, fields in invitations.items():
        emails[name] = f"{name.lower()}-{tag}@example.com"  # as mail headers have it
        response = flow.post(
            "/api/registration/members/invitations",
            json={"email": emails[name], **fields},
            headers=owner,
        )
        assert response.status_code == 201, response.text
    for name, address in emails.items():
        assert accept(flow, invitation_token(flow, address), name.title()).status_code == 201
    return emails


@pytest.fixture(scope="module")
def showcase(tmp_path_factory):
    with embedded_loopgate(tmp_path_factory.mktemp("role-matrix")) as flow:
        yield _build_showcase(flow)


def _build_showcase(flow) -> Showcase:
    tag = uuid.uuid4().hex[:6]
    owner_email = f"owner-{tag}@example.com"
    owner = new_organisation(flow, "Harbour Lights", owner_email)
    rival_email = f"rival-{tag}@example.com"
    rival = new_organisation(flow, "Rival Co", rival_email)
    script = flow.post("/api/registration/members/me/tokens", json={"name": "x"}, headers=owner)
    assert script.status_code == 201, script.text
    s = Showcase(flow, {"Authorization": f"Bearer {script.json()['token']}"})
    s.ids["token_id"] = script.json()["id"]
    s.headers[OTHER_ORGANISATION], s.emails[OTHER_ORGANISATION] = rival, rival_email
    flow.organiser = s.admin  # from now on CoreFlow's helpers act as the owner

    event_a = flow.create_event(title="Event A", **EVENT_DAYS)
    s.ids["event_id"] = event_a
    s.ids["ticket_type_id"] = flow.add_ticket_type(event_a, quota=10)
    s.ids["session_id"] = s.ok(
        "POST",
        f"/api/registration/events/{event_a}/sessions",
        201,
        json={"title": "Keynote", "capacity": 50, **_times()},
    )["id"]
    s.ids["question_id"] = s.question()
    flow.publish(event_a)
    s.ids["event_b"] = flow.create_event(title="Event B", **EVENT_DAYS)
    scratch = flow.create_event(title="Scratch", **EVENT_DAYS)
    s.ids["scratch_event"] = scratch
    s.ids["general"] = flow.add_ticket_type(scratch, quota=50)
    s.ids["juried"] = s.ok(
        "POST",
        f"/api/registration/events/{scratch}/ticket-types",
        201,
        json={"name": "Juried", "quota": 50, "requires_approval": True},
    )["id"]
    flow.publish(scratch)

    registration = flow.registered(event_a, s.ids["ticket_type_id"], name="Ada Lovelace")
    s.ids["registration_id"] = registration["id"]
    spare_registrations = [
        flow.registered(scratch, s.ids["general"], name=f"Spare {n}") for n in range(2)
    ]
    ticket = flow.wait_for_ticket(registration)
    s.ids["ticket_id"], s.ids["payload"] = ticket["id"], ticket["payload"]
    s.spares["ticket_id"] = [flow.wait_for_ticket(r)["id"] for r in spare_registrations]
    flow.wait_until_in_roster(s.ids["ticket_id"])
    s.ids["list_id"] = s.checkin_list()
    s.ids["device_id"] = s.device()
    s.ids["key_id"] = s.ok("GET", f"/api/ticketing/events/{event_a}/keys")["keys"][0]["key_id"]

    s.emails |= {
        OWNER: owner_email,
        **_join(
            flow,
            owner,
            {
                MANAGER: {"role": MANAGER},
                DOOR: {"role": DOOR},
                VIEWER: {"role": VIEWER},
                OTHER_EVENT: {"role": MANAGER, "event_ids": [s.ids["event_b"]]},
                "second": {"role": VIEWER},
                "spare-1": {"role": DOOR},
                "spare-2": {"role": DOOR},
                REMOVED: {"role": DOOR},
                SIGNED_OUT_EVERYWHERE: {"role": VIEWER},
            },
        ),
    }
    for caller in (*ROLES, OTHER_EVENT, REMOVED, SIGNED_OUT_EVERYWHERE):
        s.headers[caller] = s.sign_in(caller)
    s.headers[NO_TOKEN] = {}
    members = {m["email"]: m["id"] for m in s.ok("GET", "/api/registration/members")}
    s.ids["member_id"] = members[s.emails["second"]]
    s.spares["member_id"] = [members[s.emails["spare-1"]], members[s.emails["spare-2"]]]
    s.ids["removed_member"] = members[s.emails[REMOVED]]

    s.of_event_a = {
        s.ids[name]
        for name in (
            "event_id",
            "ticket_type_id",
            "session_id",
            "question_id",
            "registration_id",
            "ticket_id",
            "list_id",
            "device_id",
            "key_id",
        )
    }
    s.ours = s.of_event_a | {s.ids["event_b"], scratch, s.ids["token_id"], *members.values()}
    return s


# --- how each route is called ---------------------------------------------------------------


@dataclass
class Call:
    values: dict = field(default_factory=dict)  # path arguments besides the showcase's
    json: dict | None = None
    params: dict | None = None
    headers: dict | None = None  # instead of the caller's own
    after: Callable[[], None] | None = None


def _scan_id() -> str:
    return uuid.uuid4().hex


def _sign_out_everywhere(s: Showcase, caller: str, carried_out: bool) -> Call:
    if not carried_out:
        return Call()

    def sign_in_again():
        time.sleep(0.01)  # a token issued after the sign-out
        s.headers[caller] = s.sign_in(caller)

    return Call(headers=s.sign_in(caller), after=sign_in_again)


def _own_personal_token(s: Showcase, caller: str, carried_out: bool) -> Call:
    if not carried_out:
        return Call()
    made = s.send(
        "POST", "/api/registration/members/me/tokens", s.headers[caller], json={"name": "x"}
    )
    assert made.status_code == 201, made.text
    return Call(values={"token_id": made.json()["id"]})


def _spare(kind: str) -> Callable[[Showcase, str, bool], Call]:
    def call(s: Showcase, caller: str, carried_out: bool) -> Call:
        return Call(values={kind: s.spares[kind].pop()}) if carried_out else Call()

    return call


def _fresh(kind: str, make: Callable[[Showcase], str]) -> Callable[[Showcase, str, bool], Call]:
    def call(s: Showcase, caller: str, carried_out: bool) -> Call:
        return Call(values={kind: make(s)}) if carried_out else Call()

    return call


def _body(**body) -> Callable[[Showcase, str, bool], Call]:
    return lambda s, caller, carried_out: Call(json=body)


# A route missing here is called with the showcase's objects and no body. `carried_out`: the
# call will really act (an allowed role on its own organisation's objects), so it gets fresh
# objects where it would use the showcase's up.
CALLS: dict[str, Callable[[Showcase, str, bool], Call]] = {
    # registration
    "registration.create_event": _body(title="Matrix night", **_times()),
    "registration.update_event": _body(venue="Pier 4"),
    "registration.publish_event": _fresh("event_id", lambda s: s.draft_event(True)),
    "registration.unpublish_event": _fresh("event_id", Showcase.published_event),
    "registration.cancel_event": _fresh("event_id", Showcase.draft_event),
    "registration.add_ticket_type": _body(name="VIP", quota=5),
    "registration.update_ticket_type": _body(quota=12),
    "registration.add_time_slot": _body(title="Workshop", capacity=20, **_times()),
    "registration.update_time_slot": _body(capacity=25),
    "registration.add_question": _body(kind="text", label="Dietary needs?"),
    "registration.update_question": _body(label="Any dietary needs?"),
    "registration.remove_question": _fresh("question_id", Showcase.question),
    "registration.approve_registration": _fresh(
        "registration_id", lambda s: s.scratch_registration("juried")
    ),
    "registration.reject_registration": _fresh(
        "registration_id", lambda s: s.scratch_registration("juried")
    ),
    "registration.erase_personal_data": _fresh(
        "registration_id", lambda s: s.scratch_registration("general")
    ),
    "registration.create_organisation": _body(
        name="Intruders", owner={"name": "Mallory", "email": "mallory@example.com"}
    ),
    "registration.invite_member": lambda s, caller, carried_out: Call(
        json={"email": f"invited-{uuid.uuid4().hex[:8]}@example.com", "role": VIEWER}
    ),
    "registration.change_member": _body(role=MANAGER),
    "registration.remove_member": _spare("member_id"),
    "registration.create_personal_token": _body(name="badge printer"),
    "registration.revoke_personal_token": _own_personal_token,
    "registration.sign_out": lambda s, caller, carried_out: Call(
        headers=s.sign_in(caller) if carried_out else None
    ),
    "registration.sign_out_everywhere": _sign_out_everywhere,
    # ticketing
    "ticketing.retire_key": _fresh("key_id", Showcase.rotated_key),
    "ticketing.reissue_ticket": _spare("ticket_id"),
    # checkin
    "checkin.scan": lambda s, caller, carried_out: Call(
        json={"payload": s.ids["payload"], "scan_id": _scan_id()}
    ),
    "checkin.manual_scan": lambda s, caller, carried_out: Call(
        json={"ticket_id": s.ids["ticket_id"], "scan_id": _scan_id()}
    ),
    "checkin.scan_batch": lambda s, caller, carried_out: Call(
        json={
            "scans": [
                {
                    "payload": s.ids["payload"],
                    "scan_id": _scan_id(),
                    "scanned_at": datetime.now(UTC).isoformat(),
                }
            ]
        }
    ),
    "checkin.search_tickets": lambda s, caller, carried_out: Call(params={"q": "Ada"}),
    "checkin.event_stats_live": lambda s, caller, carried_out: Call(params={"max_seconds": 1}),
    "checkin.create_checkin_list": _body(name="Side door"),
    "checkin.update_checkin_list": _body(name="North gate"),
    "checkin.delete_checkin_list": _fresh("list_id", Showcase.checkin_list),
    "checkin.revoke_device": _fresh("device_id", Showcase.device),
}


def call(s: Showcase, route: Route, caller: str) -> tuple[requests.Response, str]:
    """Call `route` as `caller`: the answer, and its text (none for an event stream)."""
    carried_out = expected(route, caller) in (ALLOWED, SEES_NONE)
    how = CALLS.get(route.endpoint, lambda *_: Call())(s, caller, carried_out)
    headers = how.headers if how.headers is not None else s.headers[caller]
    response = s.send(
        route.method,
        route.path({**s.ids, **how.values}),
        headers,
        json=how.json,
        params=how.params,
        stream=True,
    )
    streamed = response.headers.get("Content-Type", "").startswith("text/event-stream")
    text = "" if streamed else response.text
    response.close()
    if how.after is not None:
        how.after()
    return response, text


# --- the matrix -----------------------------------------------------------------------------


def test_every_route_declares_who_may_call_it_or_is_listed_public(showcase):
    served = routes_of(showcase.flow.system.app._apps)
    assert sorted(map(str, served)) == sorted(map(str, ROUTES)), "the apps changed under us"
    undeclared = sorted(
        f"{route} ({route.endpoint})"
        for route in served
        if route.allowed is None and route.endpoint not in PUBLIC and not is_organiser_page(route)
    )
    assert not undeclared, "routes neither declaring allowed roles nor listed in PUBLIC"
    both = sorted(r.endpoint for r in served if r.allowed is not None and r.endpoint in PUBLIC)
    assert not both, "routes listed in PUBLIC that declare roles"
    assert set(PUBLIC) <= {route.endpoint for route in served}, "PUBLIC lists routes gone"
    assert {route.service for route in GUARDED} == set(SERVICE_ORDER)


def _is_problem(response: requests.Response) -> bool:
    return response.headers.get("Content-Type", "").startswith("application/problem+json")


def _answers_as_expected(s: Showcase, route: Route, caller: str) -> None:
    outcome = expected(route, caller)
    refused = outcome in (UNKNOWN, REFUSED, MISSING)
    changes = refused and route.method != "GET"
    before = s.remembered_fingerprint(route.service) if changes else None
    response, text = call(s, route, caller)
    got = f"{route} as {caller}: expected {outcome}, got {response.status_code} {text[:300]}"

    if refused:
        assert response.status_code == int(outcome), got
        assert _is_problem(response), got
        if changes:
            after = s.fingerprint(route.service)
            assert after == before, f"{route} as {caller} changed something"
            s._fingerprints[route.service] = after
        return
    s.changed_maybe()
    assert response.status_code not in (401, 403, 404, 422), got
    assert response.status_code < 500, got
    if outcome == SEES_NONE:
        unseen = s.ours if caller == OTHER_ORGANISATION else s.of_event_a
        leaked = sorted(identifier for identifier in unseen if identifier in text)
        assert not leaked, f"{got}: it names the showcase's {leaked}"


@pytest.mark.parametrize(
    ("route", "caller"), _cases((*ROLES, OTHER_EVENT, OTHER_ORGANISATION, NO_TOKEN))
)
def test_each_caller_is_answered_as_the_route_declares(showcase, route, caller):
    _answers_as_expected(showcase, route, caller)


@pytest.fixture(scope="module")
def ended_tokens(showcase):
    """The removed member's token and the one signed out everywhere, once every service
    refuses them (within DESIGN.md's 10 seconds)."""
    s = showcase
    removed = s.send("DELETE", f"/api/registration/members/{s.ids['removed_member']}", s.admin)
    assert removed.status_code == 204, removed.text
    signed_out = s.send(
        "POST", "/api/registration/sign-out-everywhere", s.headers[SIGNED_OUT_EVERYWHERE]
    )
    assert signed_out.status_code == 204, signed_out.text
    event = s.ids["event_id"]
    probes = [
        f"/api/registration/organisation/events/{event}",
        f"/api/ticketing/events/{event}/keys",
        f"/api/checkin/events/{event}/lists",
    ]

    def refused_everywhere():
        return all(
            s.send("GET", path, s.headers[caller]).status_code == 401
            for caller in (REMOVED, SIGNED_OUT_EVERYWHERE)
            for path in probes
        )

    wait_until(refused_everywhere, MEMBER_CHANGE_SECONDS, "the ended tokens refused everywhere")
    s.changed_maybe()  # the team lost a member
    return s


@pytest.mark.parametrize(("route", "caller"), _cases((REMOVED, SIGNED_OUT_EVERYWHERE)))
def test_ended_tokens_are_refused_by_every_route(ended_tokens, route, caller):
    _answers_as_expected(ended_tokens, route, caller)


# --- the organiser pages, walked as those who must not see the showcase ---------------------

# Pages for those not signed in yet: signing in, joining a team, a forgotten password.
BEFORE_SIGNING_IN = {
    "pages.login",
    "pages.sign_in",
    "team_pages.invitation",
    "team_pages.accept_invitation",
    "team_pages.password_reset_request",
    "team_pages.request_password_reset",
    "team_pages.new_password",
    "team_pages.choose_new_password",
}
SIGNED_IN_PAGES = sorted(
    (r for r in ROUTES if is_organiser_page(r) and r.endpoint not in BEFORE_SIGNING_IN),
    key=lambda r: (SERVICE_ORDER.index(r.service), r.rule, r.method),
)
ANY_OF = re.compile(r"<any\(([^)]*)\):(\w+)>")
PART_IDS = {"ticket-types": "ticket_type_id", "sessions": "session_id", "questions": "question_id"}


def page_path(s: Showcase, route: Route) -> str:
    """The page's address for the showcase's objects (an any() takes its first choice)."""
    values = dict(s.ids)

    def first_choice(found) -> str:
        values[found.group(2)] = found.group(1).split(",")[0].strip().strip('"')
        return values[found.group(2)]

    rule = ANY_OF.sub(first_choice, route.rule)
    values["part_id"] = s.ids[PART_IDS[values.get("part", "ticket-types")]]
    return ARGUMENT.sub(lambda found: str(values[found.group(1)]), rule)


def browser_headers(headers: dict) -> dict:
    """A browser signed in as the caller: the organiser cookie holds their access token."""
    token = headers.get("Authorization", "").removeprefix("Bearer ")
    return {"Cookie": f"{ORGANISER_COOKIE}={token}"} if token else {}


def open_page(s: Showcase, route: Route, caller: str) -> tuple[requests.Response, str]:
    token = s.headers[caller].get("Authorization", "").removeprefix("Bearer ")
    response = s.send(
        route.method,
        page_path(s, route),
        browser_headers(s.headers[caller]),
        data={"csrf": csrf_token(token)} if route.method == "POST" else None,
        allow_redirects=False,
        stream=True,
    )
    streamed = response.headers.get("Content-Type", "").startswith("text/event-stream")
    text = "" if streamed else response.text
    response.close()
    return response, text


def _page_cases(callers) -> list:
    cases = []
    for route in SIGNED_IN_PAGES:
        for caller in callers:
            # The forms of a page naming no object are the caller's own (a new event of
            # their own, signing out); a member limited to event B may see all the team's.
            if caller == OTHER_ORGANISATION and not route.arguments and route.method == "POST":
                continue
            if caller == OTHER_EVENT and not route.names_an_event_object:
                continue
            name = f"{route.endpoint}-{route.method}-{caller}"
            cases.append(pytest.param(route, caller, id=name))
    return cases


@pytest.mark.parametrize(
    ("route", "caller"), _page_cases((OTHER_ORGANISATION, OTHER_EVENT, NO_TOKEN))
)
def test_no_organiser_page_shows_or_changes_the_showcase_for_those_outside_it(
    showcase, route, caller
):
    s = showcase
    before = s.remembered_fingerprint(route.service) if route.method == "POST" else None
    response, text = open_page(s, route, caller)
    got = f"{route} as {caller}: {response.status_code} {text[:300]}"

    if caller == NO_TOKEN:
        assert response.status_code == 303, got
        assert response.headers["Location"].startswith("/organiser/login?next="), got
    elif route.arguments:
        assert response.status_code == 404, got
    else:
        assert response.status_code == 200, got
    # The ids of the address asked for may come back (the page's own links); no other may.
    unseen = (s.of_event_a if caller == OTHER_EVENT else s.ours) - set(
        page_path(s, route).split("/")
    )
    leaked = sorted(identifier for identifier in unseen if identifier in text)
    assert not leaked, f"{got}: it names the showcase's {leaked}"
    if before is not None:
        assert s.fingerprint(route.service) == before, f"{route} as {caller} changed something"


@pytest.mark.parametrize(("route", "caller"), _page_cases((REMOVED, SIGNED_OUT_EVERYWHERE)))
def test_a_removed_members_and_a_signed_out_members_pages_send_them_to_sign_in(
    ended_tokens, route, caller
):
    response, text = open_page(ended_tokens, route, caller)
    assert response.status_code == 303, f"{route} as {caller}: {response.status_code} {text[:300]}"
    assert response.headers["Location"].startswith("/organiser/login?next=")
