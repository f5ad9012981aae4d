"""One registration's page in the organiser area, over real HTTP on an embedded Loopgate: what
the attendee chose and answered, each consent with the words they were shown, where they
stand on the waitlist, and cancelling it after asking once (the place goes to the next in
line). Who may open it: the team's owner, manager and viewer; never the door, another
organisation or a member limited to another event."""

import uuid

import pytest
import requests

from tests.support import (
    ORGANISER_TOKEN,
    csrf_of,
    invited_member_headers,
    module_loopgate,
    new_organisation,
    send_secure_cookies_over_http,
    sign_in,
    signed_in_member,
)

API = "/api/registration"
CONSENT = "I agree that Harbour Lights keeps my email to send the ticket."
embedded = module_loopgate("registration-page")


def made(response, status=201) -> dict:
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture
def showcase(embedded):
    """An organisation with one published event of one place, a choice question and a
    consent, and its owner's address (`owner_address`) and headers (`owner`)."""
    tag = uuid.uuid4().hex[:6]
    showcase = type("Showcase", (), {})()
    showcase.tag, showcase.owner_address = tag, f"owner-{tag}@example.com"
    showcase.owner = owner = new_organisation(embedded, "Harbour Lights", showcase.owner_address)
    showcase.event_id = made(
        embedded.post(
            f"{API}/events",
            json={
                "title": "Harbour Lights",
                "starts_at": "2030-05-01T10:00:00+00:00",
                "ends_at": "2030-05-01T15:00:00+00:00",
                "timezone": "Asia/Hong_Kong",
            },
            headers=owner,
        )
    )["id"]
    showcase.ticket_type_id = made(
        embedded.post(
            f"{API}/events/{showcase.event_id}/ticket-types",
            json={"name": "General", "quota": 1},
            headers=owner,
        )
    )["id"]
    ask = f"{API}/events/{showcase.event_id}/questions"
    showcase.track = made(
        embedded.post(
            ask,
            json={"kind": "choice", "label": "Which track?", "options": ["AI", "Art"]},
            headers=owner,
        )
    )["id"]
    showcase.consent = made(
        embedded.post(
            ask, json={"kind": "consent", "label": CONSENT, "required": True}, headers=owner
        )
    )["id"]
    made(embedded.post(f"{API}/events/{showcase.event_id}/publish", headers=owner), 200)
    return showcase


def register(embedded, showcase, name: str) -> dict:
    return made(
        embedded.post(
            f"{API}/events/{showcase.event_id}/registrations",
            json={
                "ticket_type_id": showcase.ticket_type_id,
                "attendee": {"name": name, "email": f"{name.lower()}-{showcase.tag}@example.com"},
                "answers": {showcase.track: "Art", showcase.consent: True},
            },
        )
    )


def page_of(browser, embedded, registration: dict, suffix: str = ""):
    return browser.get(embedded.url(f"/organiser/registrations/{registration['id']}{suffix}"))


def statuses_of(embedded, showcase) -> dict[str, str]:
    listed = embedded.get(f"{API}/events/{showcase.event_id}/registrations", headers=showcase.owner)
    return {registration["id"]: registration["status"] for registration in made(listed, 200)}


def test_the_page_shows_the_answers_the_consent_given_and_the_waitlist_position(embedded, showcase):
    ada = register(embedded, showcase, "Ada")
    grace = register(embedded, showcase, "Grace")
    owner = signed_in_member(embedded, showcase.owner_address)

    page = page_of(owner, embedded, ada)

    assert page.status_code == 200
    assert "Ada" in page.text and "Confirmed" in page.text and "Art" in page.text
    assert CONSENT in page.text and "Given" in page.text
    assert f"/api/ticketing/organiser/registrations/{ada['id']}/ticket" in page.text
    waiting = page_of(owner, embedded, grace).text
    assert "On the waiting list" in waiting and "number 1 on the waiting list" in waiting
    event_page = owner.get(embedded.url(f"/organiser/events/{showcase.event_id}")).text
    assert f'href="/organiser/registrations/{ada["id"]}"' in event_page


def test_cancelling_asks_once_then_frees_the_place_for_the_next_in_line(embedded, showcase):
    ada = register(embedded, showcase, "Ada")
    grace = register(embedded, showcase, "Grace")
    owner = signed_in_member(embedded, showcase.owner_address)

    asked = page_of(owner, embedded, ada, "/cancel")
    assert asked.status_code == 200
    assert "Cancel the registration of Ada?" in asked.text and "waiting list" in asked.text
    assert statuses_of(embedded, showcase)[ada["id"]] == "confirmed"
    done = owner.post(
        embedded.url(f"/organiser/registrations/{ada['id']}/cancel"),
        data={"csrf": csrf_of(asked), "back": "registration"},
        allow_redirects=False,
    )

    assert done.status_code == 303
    assert done.headers["Location"].endswith(f"/organiser/registrations/{ada['id']}?done=cancel")
    cancelled = page_of(owner, embedded, ada, "?done=cancel")
    assert "The registration is cancelled." in cancelled.text
    assert "Cancel the registration" not in cancelled.text
    assert statuses_of(embedded, showcase) == {ada["id"]: "cancelled", grace["id"]: "confirmed"}
    again = owner.post(
        embedded.url(f"/organiser/registrations/{ada['id']}/cancel"),
        data={"csrf": csrf_of(asked), "back": "registration"},
        allow_redirects=False,
    )
    assert again.headers["Location"].endswith("?done=refused")


def test_a_viewer_reads_the_page_but_cannot_cancel(embedded, showcase):
    ada = register(embedded, showcase, "Ada")
    address = f"viewer-{showcase.tag}@example.com"
    invited_member_headers(embedded, showcase.owner, address, "viewer")
    viewer = signed_in_member(embedded, address)

    page = page_of(viewer, embedded, ada)

    assert page.status_code == 200 and CONSENT in page.text
    assert "Cancel the registration" not in page.text
    refused = viewer.post(
        embedded.url(f"/organiser/registrations/{ada['id']}/cancel"),
        data={"csrf": csrf_of(page), "back": "registration"},
        allow_redirects=False,
    )
    assert refused.status_code == 403


@pytest.mark.parametrize("who", ["door", "limited to another event", "another organisation"])
def test_the_page_is_closed_to_those_who_may_not_see_the_attendee(embedded, showcase, who):
    ada = register(embedded, showcase, "Ada")
    address = f"{who.split()[0]}-{showcase.tag}@example.com"
    if who == "door":
        invited_member_headers(embedded, showcase.owner, address, "door")
    elif who == "limited to another event":
        other_event = made(
            embedded.post(
                f"{API}/events",
                json={
                    "title": "Another showcase",
                    "starts_at": "2030-06-01T10:00:00+00:00",
                    "ends_at": "2030-06-01T15:00:00+00:00",
                },
                headers=showcase.owner,
            )
        )["id"]
        invited_member_headers(
            embedded, showcase.owner, address, "manager", event_ids=[other_event]
        )
    else:
        new_organisation(embedded, "Another team", address)
    browser = signed_in_member(embedded, address)

    for suffix in ("", "/cancel"):
        answer = page_of(browser, embedded, ada, suffix)
        assert answer.status_code in (403, 404), (suffix, answer.status_code)
        assert "Ada" not in answer.text
    if who != "door":
        assert page_of(browser, embedded, ada).status_code == 404


def test_signed_out_the_page_sends_to_sign_in_and_an_unknown_registration_is_404(
    embedded, showcase
):
    ada = register(embedded, showcase, "Ada")
    stranger = embedded.http.__class__()
    answer = page_of(stranger, embedded, ada)
    assert answer.history and answer.history[0].status_code == 303
    assert "/organiser/login?next=" in answer.url
    owner = signed_in_member(embedded, showcase.owner_address)
    assert page_of(owner, embedded, {"id": str(uuid.uuid4())}).status_code == 404


def test_the_organiser_token_opens_registrations_pages_and_says_why_not_the_doors(embedded):
    """The bootstrap token's browser session is registration's alone: the doors (check-in)
    send it to sign in as a member, saying so, and signing in with the token again does not
    send it back there in a loop."""
    event_id, _ = embedded.published_event()
    doors = f"/api/checkin/organiser/events/{event_id}/doors"
    browser = requests.Session()
    assert sign_in(browser, embedded.base_url, ORGANISER_TOKEN).status_code == 303
    assert browser.get(embedded.url("/organiser/")).status_code == 200

    sent = browser.get(embedded.url(doors), allow_redirects=False)
    assert sent.status_code == 303
    login = browser.get(embedded.url(sent.headers["Location"]))
    assert "open for team members: sign in with your email address" in login.text
    send_secure_cookies_over_http(browser)
    again = browser.post(
        embedded.url(sent.headers["Location"]),
        data={"token": ORGANISER_TOKEN, "csrf": login.cookies["loopgate_sign_in"]},
        allow_redirects=False,
    )
    assert again.status_code == 303 and again.headers["Location"] == "/organiser/"
