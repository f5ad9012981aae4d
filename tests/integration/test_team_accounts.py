"""Organisations and their teams over real HTTP, on a whole embedded Loopgate: the instance's
administrator creates an organisation, its owner joins from the mailed invitation, invites a
team, and every member's token works on all three services with their role, and stops
working everywhere within seconds when they are removed or their role changes
(DESIGN.md, "Organisers and their teams")."""

import re
import time
import uuid
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
import requests

from tests.support import (
    PASSWORD,
    CoreFlow,
    accept,
    csrf_of,
    embedded_loopgate,
    invitation_token,
    invited_member_headers,
    mailed_link_token,
    member_headers,
    module_loopgate,
    new_organisation,
    organisation_invited,
    send_secure_cookies_over_http,
    signed_in_member,
    wait_until,
)

MEMBER_CHANGE_SECONDS = 10


def event_of(flow: CoreFlow, headers: dict, title: str = "Demo Day") -> str:
    organiser = flow.organiser
    flow.organiser = headers
    try:
        return flow.create_event(title=title)
    finally:
        flow.organiser = organiser


def answers(flow: CoreFlow, headers: dict, event_id: str) -> dict[str, int]:
    """What each service answers this member about this event."""
    return {
        "registration": flow.get(
            f"/api/registration/organisation/events/{event_id}", headers=headers
        ).status_code,
        "ticketing": flow.get(
            f"/api/ticketing/events/{event_id}/keys", headers=headers
        ).status_code,
        "checkin": flow.get(f"/api/checkin/events/{event_id}/lists", headers=headers).status_code,
    }


# One embedded Loopgate for the module (each test makes its own organisations and
# addresses), instead of one per test.
embedded = module_loopgate("teams")


@pytest.fixture
def showcase(embedded):
    """An organisation with an owner signed in and one published event the others know."""
    owner = new_organisation(
        embedded, "Harbour Lights", f"owner-{uuid.uuid4().hex[:6]}@example.com"
    )
    event_id = event_of(embedded, owner)
    organiser = embedded.organiser
    embedded.organiser = owner
    embedded.add_ticket_type(event_id, 10)
    embedded.publish(event_id)
    embedded.organiser = organiser
    wait_until(
        lambda: answers(embedded, owner, event_id) == {k: 200 for k in answers_keys()},
        15,
        "the event in every service",
    )
    return embedded, owner, event_id


def answers_keys():
    return ("registration", "ticketing", "checkin")


def test_an_owner_joins_from_the_mailed_invitation_and_works_in_every_service(showcase):
    flow, owner, event_id = showcase
    assert answers(flow, owner, event_id) == {"registration": 200, "ticketing": 200, "checkin": 200}
    team = flow.get("/api/registration/members", headers=owner).json()
    assert [(member["name"], member["role"]) for member in team] == [("Olive Owner", "owner")]


def test_an_invitation_opens_once_and_an_altered_one_never(embedded):
    address = f"owner-{uuid.uuid4().hex[:6]}@example.com"
    organisation_invited(embedded, "Kowloon Labs", address)
    token = invitation_token(embedded, address)
    altered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")

    assert accept(embedded, altered, "Mallory").status_code == 404
    assert accept(embedded, token, "Olive", password="short").status_code == 422
    assert accept(embedded, token, "Olive").status_code == 201
    again = accept(embedded, token, "Mallory")
    assert again.status_code == 410
    assert again.headers["Content-Type"] == "application/problem+json"


def test_each_role_does_what_design_md_says_and_nothing_more(showcase):
    flow, owner, event_id = showcase
    tag = uuid.uuid4().hex[:6]
    door = invited_member_headers(flow, owner, f"door-{tag}@example.com", "door")
    viewer = invited_member_headers(flow, owner, f"viewer-{tag}@example.com", "viewer")
    manager = invited_member_headers(flow, owner, f"manager-{tag}@example.com", "manager")

    for member in (door, viewer, manager):
        assert answers(flow, member, event_id) == {k: 200 for k in answers_keys()}
    registrations = f"/api/registration/events/{event_id}/registrations"
    assert flow.get(registrations, headers=door).status_code == 403  # never the attendees
    assert flow.get(registrations, headers=viewer).status_code == 200
    change = {"json": {"venue": "Pier 4"}}
    edit = f"/api/registration/events/{event_id}"
    assert flow.http.patch(flow.url(edit), headers=door, **change).status_code == 403
    assert flow.http.patch(flow.url(edit), headers=viewer, **change).status_code == 403
    assert flow.http.patch(flow.url(edit), headers=manager, **change).status_code == 200
    gate = {"name": "North gate"}
    lists = f"/api/checkin/events/{event_id}/lists"
    assert flow.post(lists, json=gate, headers=viewer).status_code == 403
    assert flow.post(lists, json=gate, headers=door).status_code == 201
    invitation = {"email": f"x-{tag}@example.com", "role": "owner"}
    invite = "/api/registration/members/invitations"
    assert flow.post(invite, json=invitation, headers=manager).status_code == 403
    assert flow.post(invite, json=invitation, headers=door).status_code == 403
    assert (
        flow.post(invite, json={**invitation, "role": "door"}, headers=manager).status_code == 201
    )


def test_another_organisations_events_answer_as_missing_ones(showcase):
    flow, owner, event_id = showcase
    rival = new_organisation(flow, "Rival Co", f"rival-{uuid.uuid4().hex[:6]}@example.com")

    assert answers(flow, rival, event_id) == {k: 404 for k in answers_keys()}
    assert flow.get("/api/registration/organisation/events", headers=rival).json() == []
    members = [
        member["email"] for member in flow.get("/api/registration/members", headers=rival).json()
    ]
    assert len(members) == 1 and members[0].startswith("rival-")


def test_a_member_limited_to_one_event_sees_no_other(showcase):
    flow, owner, event_id = showcase
    other_event = event_of(flow, owner, "Second Night")
    limited = invited_member_headers(
        flow, owner, f"limited-{uuid.uuid4().hex[:6]}@example.com", "manager", event_ids=[event_id]
    )
    assert answers(flow, limited, event_id)["registration"] == 200
    assert answers(flow, limited, other_event)["registration"] == 404
    listed = flow.get("/api/registration/organisation/events", headers=limited).json()
    assert [event["id"] for event in listed] == [event_id]


def test_a_removed_member_is_refused_by_every_service_within_seconds(showcase):
    flow, owner, event_id = showcase
    address = f"door-{uuid.uuid4().hex[:6]}@example.com"
    door = invited_member_headers(flow, owner, address, "door")
    member_id = next(
        m["id"]
        for m in flow.get("/api/registration/members", headers=owner).json()
        if m["email"] == address
    )
    assert answers(flow, door, event_id) == {k: 200 for k in answers_keys()}

    removed = flow.http.delete(flow.url(f"/api/registration/members/{member_id}"), headers=owner)
    assert removed.status_code == 204
    started = time.monotonic()
    wait_until(
        lambda: answers(flow, door, event_id) == {k: 401 for k in answers_keys()},
        MEMBER_CHANGE_SECONDS,
        "the removed member refused everywhere",
    )
    assert time.monotonic() - started < MEMBER_CHANGE_SECONDS
    again = flow.post("/api/registration/sign-in", json={"email": address, "password": PASSWORD})
    assert again.status_code == 401


def test_a_changed_role_takes_effect_everywhere_without_signing_in_again(showcase):
    flow, owner, event_id = showcase
    address = f"door-{uuid.uuid4().hex[:6]}@example.com"
    door = invited_member_headers(flow, owner, address, "door")
    member_id = next(
        m["id"]
        for m in flow.get("/api/registration/members", headers=owner).json()
        if m["email"] == address
    )
    lists = f"/api/checkin/events/{event_id}/lists"
    assert flow.post(lists, json={"name": "Gate A"}, headers=door).status_code == 201

    changed = flow.http.patch(
        flow.url(f"/api/registration/members/{member_id}"), json={"role": "viewer"}, headers=owner
    )
    assert changed.status_code == 200 and changed.json()["role"] == "viewer"
    wait_until(
        lambda: flow.post(lists, json={"name": "Gate B"}, headers=door).status_code == 403,
        MEMBER_CHANGE_SECONDS,
        "the door member become a viewer at check-in",
    )


def test_the_last_owner_stays_an_owner(showcase):
    flow, owner, _event_id = showcase
    (me,) = flow.get("/api/registration/members", headers=owner).json()
    demoted = flow.http.patch(
        flow.url(f"/api/registration/members/{me['id']}"), json={"role": "viewer"}, headers=owner
    )
    assert demoted.status_code == 409


def test_signing_in_wrong_says_nothing_and_guessing_is_throttled(tmp_path):
    with embedded_loopgate(tmp_path, rate_limit="20/minute") as flow:
        address = f"owner-{uuid.uuid4().hex[:6]}@example.com"
        new_organisation(flow, "Guarded", address)
        wrong = flow.post("/api/registration/sign-in", json={"email": address, "password": "no"})
        nobody = flow.post(
            "/api/registration/sign-in", json={"email": "nobody@example.com", "password": "no"}
        )
        assert wrong.status_code == nobody.status_code == 401
        assert wrong.json()["detail"] == nobody.json()["detail"]
        statuses = [
            flow.post(
                "/api/registration/sign-in", json={"email": address, "password": "guess"}
            ).status_code
            for _ in range(12)
        ]
        assert statuses[-1] == 429
        # The right password waits too, once the account is being guessed.
        right = flow.post(
            "/api/registration/sign-in", json={"email": address, "password": PASSWORD}
        )
        assert right.status_code == 429 and int(right.headers["Retry-After"]) >= 1


def test_signing_out_everywhere_ends_every_sign_in(showcase):
    flow, owner, event_id = showcase
    signed_out = flow.post("/api/registration/sign-out-everywhere", headers=owner)
    assert signed_out.status_code == 204
    wait_until(
        lambda: answers(flow, owner, event_id) == {k: 401 for k in answers_keys()},
        MEMBER_CHANGE_SECONDS,
        "every service to refuse the signed-out token",
    )


# --- the same in a browser: the invitation page, the team page ------------------------------


def joined_in_a_browser(flow: CoreFlow, address: str, name: str) -> requests.Session:
    """Open the mailed invitation in a browser, choose a password: signed in."""
    browser = requests.Session()
    path = f"/organiser/invitations/{invitation_token(flow, address)}"
    form = browser.get(flow.url(path))
    assert form.status_code == 200
    send_secure_cookies_over_http(browser)
    joined = browser.post(
        flow.url(path),
        data={
            "csrf": csrf_of(form),
            "name": name,
            "password": PASSWORD,
            "password_again": PASSWORD,
        },
        allow_redirects=False,
    )
    assert joined.status_code == 303 and joined.headers["Location"] == "/organiser/"
    send_secure_cookies_over_http(browser)
    return browser


def test_an_owner_joins_and_invites_a_door_member_from_the_pages(embedded):
    address = f"owner-{uuid.uuid4().hex[:6]}@example.com"
    organisation_invited(embedded, "Harbour Lights", address)
    owner = joined_in_a_browser(embedded, address, "Olive Owner")
    team = owner.get(embedded.url("/organiser/team"))
    assert team.status_code == 200 and "Olive Owner" in team.text

    door_address = f"door-{uuid.uuid4().hex[:6]}@example.com"
    invited = owner.post(
        embedded.url("/organiser/team/invitations"),
        data={"csrf": csrf_of(team), "email": door_address, "role": "door"},
        allow_redirects=False,
    )
    assert invited.status_code == 303
    door = joined_in_a_browser(embedded, door_address, "Dora Door")
    door_team = door.get(embedded.url("/organiser/team"))
    assert "Dora Door" in door_team.text and "Send the invitation" not in door_team.text
    # A door member's forms change nothing, whatever they send.
    refused = door.post(
        embedded.url("/organiser/team/invitations"),
        data={"csrf": csrf_of(door_team), "email": "x@example.com", "role": "owner"},
        allow_redirects=False,
    )
    assert refused.status_code == 403


def test_a_wrong_password_twice_or_a_short_one_is_said_beside_its_field(embedded):
    address = f"owner-{uuid.uuid4().hex[:6]}@example.com"
    organisation_invited(embedded, "Harbour Lights", address)
    browser = requests.Session()
    path = f"/organiser/invitations/{invitation_token(embedded, address)}"
    form = browser.get(embedded.url(path))
    send_secure_cookies_over_http(browser)
    answer = browser.post(
        embedded.url(path),
        data={"csrf": csrf_of(form), "name": "Olive", "password": "short", "password_again": "x"},
    )
    assert answer.status_code == 422
    assert 'id="password-error"' in answer.text and 'id="password_again-error"' in answer.text
    assert 'value="Olive"' in answer.text  # what was typed stays


def test_a_used_invitation_page_says_so(embedded):
    address = f"owner-{uuid.uuid4().hex[:6]}@example.com"
    organisation_invited(embedded, "Harbour Lights", address)
    token = invitation_token(embedded, address)
    joined_in_a_browser(embedded, address, "Olive")
    again = requests.get(embedded.url(f"/organiser/invitations/{token}"), timeout=30)
    assert again.status_code == 410 and "used already" in again.text
    altered = requests.get(embedded.url(f"/organiser/invitations/{token[:-3]}xyz"), timeout=30)
    assert altered.status_code == 404


def test_a_personal_api_token_works_everywhere_until_revoked_or_its_member_removed(showcase):
    flow, owner, event_id = showcase
    made = flow.post("/api/registration/members/me/tokens", json={"name": "badges"}, headers=owner)
    assert made.status_code == 201, made.text
    script = {"Authorization": f"Bearer {made.json()['token']}"}
    assert answers(flow, script, event_id) == {k: 200 for k in answers_keys()}
    listed = flow.get("/api/registration/members/me/tokens", headers=owner).json()
    assert [(t["name"], "token" in t) for t in listed] == [("badges", False)]

    # Signing out everywhere ends sign-ins, not the scripts' tokens.
    flow.post("/api/registration/sign-out-everywhere", headers=owner)
    time.sleep(1)
    assert answers(flow, script, event_id) == {k: 200 for k in answers_keys()}

    revoked = flow.http.delete(
        flow.url(f"/api/registration/members/me/tokens/{made.json()['id']}"), headers=script
    )
    assert revoked.status_code == 204
    wait_until(
        lambda: answers(flow, script, event_id) == {k: 401 for k in answers_keys()},
        MEMBER_CHANGE_SECONDS,
        "the revoked token refused everywhere",
    )


def test_a_member_sees_when_each_personal_token_was_last_used_in_any_service(showcase):
    flow, owner, event_id = showcase
    made = flow.post("/api/registration/members/me/tokens", json={"name": "gates"}, headers=owner)
    unused = flow.post("/api/registration/members/me/tokens", json={"name": "idle"}, headers=owner)
    assert made.status_code == unused.status_code == 201
    before = datetime.now(UTC)
    script = {"Authorization": f"Bearer {made.json()['token']}"}
    # Used at check-in only: the use reaches registration over the bus.
    lists = flow.get(f"/api/checkin/events/{event_id}/lists", headers=script)
    assert lists.status_code == 200, lists.text

    def last_uses():
        listed = flow.get("/api/registration/members/me/tokens", headers=owner).json()
        uses = {token["name"]: token["last_used_at"] for token in listed}
        return uses if uses["gates"] else None

    uses = wait_until(last_uses, 10, "the token's use announced")
    assert uses["idle"] is None
    assert datetime.fromisoformat(uses["gates"]) >= before.replace(microsecond=0)
    (me,) = flow.get("/api/registration/members", headers=owner).json()
    page = signed_in_member(flow, me["email"]).get(flow.url("/organiser/team")).text
    assert "last used" in page and "not used yet" in page


# --- a forgotten password -------------------------------------------------------------------


def reset_token(flow: CoreFlow, address: str) -> str:
    return mailed_link_token(flow, address, "password-resets")


def test_a_forgotten_password_is_chosen_again_from_a_mailed_link_once(showcase):
    flow, owner, event_id = showcase
    (me,) = flow.get("/api/registration/members", headers=owner).json()
    asked = flow.post("/api/registration/password-resets", json={"email": me["email"]})
    nobody = flow.post("/api/registration/password-resets", json={"email": "no@example.com"})
    assert asked.status_code == nobody.status_code == 202
    token = reset_token(flow, me["email"])

    new = {"password": "another long password"}
    assert (
        flow.post(f"/api/registration/password-resets/{token[:-2]}xx", json=new).status_code == 404
    )
    assert flow.post(f"/api/registration/password-resets/{token}", json=new).status_code == 204
    assert flow.post(f"/api/registration/password-resets/{token}", json=new).status_code == 410
    # Every earlier sign-in ends; the new password signs in, the old one no more.
    wait_until(
        lambda: answers(flow, owner, event_id) == {k: 401 for k in answers_keys()},
        MEMBER_CHANGE_SECONDS,
        "the sign-ins before the reset refused everywhere",
    )
    old = flow.post("/api/registration/sign-in", json={"email": me["email"], "password": PASSWORD})
    assert old.status_code == 401
    assert member_headers(flow, me["email"], password=new["password"])


def test_the_reset_pages_mail_a_link_and_sign_in_with_the_new_password(embedded):
    address = f"owner-{uuid.uuid4().hex[:6]}@example.com"
    new_organisation(embedded, "Harbour Lights", address)
    browser = requests.Session()
    form = browser.get(embedded.url("/organiser/password-resets"))
    send_secure_cookies_over_http(browser)
    sent = browser.post(
        embedded.url("/organiser/password-resets"), data={"csrf": csrf_of(form), "email": address}
    )
    assert sent.status_code == 200 and "Check your mail" in sent.text
    path = f"/organiser/password-resets/{reset_token(embedded, address)}"
    page = browser.get(embedded.url(path))
    send_secure_cookies_over_http(browser)
    chosen = browser.post(
        embedded.url(path),
        data={
            "csrf": csrf_of(page),
            "password": "a brand new password",
            "password_again": "a brand new password",
        },
        allow_redirects=False,
    )
    assert chosen.status_code == 303 and chosen.headers["Location"] == "/organiser/"
    assert requests.get(embedded.url(path), timeout=30).status_code == 410


# --- two-step sign-in -------------------------------------------------------------------------


def test_two_step_sign_in_takes_each_code_once_and_recovery_codes_once(embedded):
    address = f"owner-{uuid.uuid4().hex[:6]}@example.com"
    new_organisation(embedded, "Harbour Lights", address)
    browser = signed_in_member(embedded, address)
    team = browser.get(embedded.url("/organiser/team"))
    started = browser.post(
        embedded.url("/organiser/team/two-step/start"), data={"csrf": csrf_of(team)}
    )
    assert started.status_code == 200 and "<svg" in started.text
    secret = re.search(r'<code class="token">([A-Z2-7]+)</code>', started.text).group(1)
    totp = pyotp.TOTP(secret)
    wrong = browser.post(
        embedded.url("/organiser/team/two-step/confirm"),
        data={"csrf": csrf_of(team), "code": "000000" if totp.now() != "000000" else "111111"},
    )
    assert wrong.status_code == 422 and 'id="code-error"' in wrong.text
    confirmed = browser.post(
        embedded.url("/organiser/team/two-step/confirm"),
        data={"csrf": csrf_of(team), "code": totp.now()},
    )
    codes = re.findall(r"<li><code>([0-9a-f]{10})</code></li>", confirmed.text)
    assert len(codes) == 10

    sign_in = "/api/registration/sign-in"
    without = embedded.post(sign_in, json={"email": address, "password": PASSWORD})
    assert without.status_code == 401
    assert without.json()["type"] == "urn:loopgate:problem:second-step-required"
    # The code that confirmed is taken already; the next time step's is new.
    next_code = totp.at(datetime.now(UTC) + timedelta(seconds=30))
    login = {"email": address, "password": PASSWORD}
    assert embedded.post(sign_in, json={**login, "code": next_code}).status_code == 200
    assert embedded.post(sign_in, json={**login, "code": next_code}).status_code == 401
    assert embedded.post(sign_in, json={**login, "code": codes[0]}).status_code == 200
    assert embedded.post(sign_in, json={**login, "code": codes[0]}).status_code == 401


def test_an_invitation_from_the_team_page_can_limit_the_member_to_some_events(showcase):
    flow, owner, event_id = showcase
    (me,) = flow.get("/api/registration/members", headers=owner).json()
    browser = signed_in_member(flow, me["email"])
    team = browser.get(flow.url("/organiser/team"))
    assert f'value="{event_id}"' in team.text
    address = f"door-{uuid.uuid4().hex[:6]}@example.com"
    invited = browser.post(
        flow.url("/organiser/team/invitations"),
        data={"csrf": csrf_of(team), "email": address, "role": "door", "event_ids": event_id},
        allow_redirects=False,
    )
    assert invited.status_code == 303
    assert accept(flow, invitation_token(flow, address), "Dora").status_code == 201
    dora = next(
        m
        for m in flow.get("/api/registration/members", headers=owner).json()
        if m["email"] == address
    )
    assert dora["event_ids"] == [event_id]
