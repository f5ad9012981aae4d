"""Setting an event up in the browser, over real HTTP on an embedded Loopgate: the event's
details, ticket types, sessions and questions, each from its form (a mistake said beside its
field, what was typed kept), duplicating an event, the preview of its public form, and a
viewer who reads all of it and changes nothing."""

import re
import uuid
from datetime import datetime

import pytest
import requests

from tests.support import (
    accept,
    csrf_of,
    invitation_token,
    new_organisation,
    sign_in,
    signed_in_member,
)

API = "/api/registration"
EVENT = {
    "title": "Harbour Lights",
    "starts_at": "2030-05-01T10:00:00+00:00",  # 18:00 to 23:00 in Hong Kong
    "ends_at": "2030-05-01T15:00:00+00:00",
    "timezone": "Asia/Hong_Kong",
}


@pytest.fixture
def site(embedded):
    """The embedded Loopgate, an organiser signed in in `site.browser`, and a draft event
    (`site.event_id`) with one ticket type."""
    created = embedded.post(f"{API}/events", json=EVENT, headers=embedded.organiser)
    assert created.status_code == 201, created.text
    embedded.event_id = created.json()["id"]
    embedded.add_ticket_type(embedded.event_id, quota=50, name="General")
    embedded.browser = requests.Session()
    assert sign_in(embedded.browser, embedded.base_url, "test-organiser-token").status_code == 303
    return embedded


def send(site, path: str, form: dict, browser=None) -> requests.Response:
    """Open the form's page and send it as a browser does, with the page's CSRF token."""
    browser = browser or site.browser
    page = browser.get(site.url(path))
    assert page.status_code == 200, page.text
    return browser.post(site.url(path), data={"csrf": csrf_of(page), **form}, allow_redirects=False)


def event_of(site, event_id=None) -> dict:
    response = site.get(
        f"{API}/organisation/events/{event_id or site.event_id}", headers=site.organiser
    )
    assert response.status_code == 200, response.text
    return response.json()


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def said_beside(page: requests.Response, field: str) -> bool:
    """The field's error is shown beside it and the field refers to it."""
    return f'id="{field}-error"' in page.text and re.search(
        rf'id="{field}"[^>]*aria-describedby="[^"]*{field}-error"', page.text, re.S
    )


DETAILS = {
    "title": "Harbour Lights 2030",
    "title-zh_Hant_HK": "港灣光影",
    "title-zh_Hans_CN": "港湾光影",
    "description": "Light art by the water.",
    "description-zh_Hant_HK": "水邊的光影藝術。",
    "venue": "Pier 4",
    "timezone": "Asia/Hong_Kong",
    "starts_at": "2030-05-02T18:00",
    "ends_at": "2030-05-02T23:30",
    "categories": ["exhibition", "talk"],
    "early_entry_minutes": "30",
    "waitlist_claim_minutes": "",
    "retention_days": "90",
}


def test_the_events_details_are_changed_from_their_form(site):
    path = f"/organiser/events/{site.event_id}/details"
    form = site.browser.get(site.url(path))
    assert 'value="Harbour Lights"' in form.text
    assert 'value="2030-05-01T18:00"' in form.text  # in the event's own time zone

    saved = send(site, path, DETAILS)

    assert saved.status_code == 303
    assert saved.headers["Location"].endswith(f"/organiser/events/{site.event_id}?done=saved")
    event = event_of(site)
    assert event["title"] == "Harbour Lights 2030" and event["venue"] == "Pier 4"
    assert event["translations"] == {
        "zh_Hant_HK": {"title": "港灣光影", "description": "水邊的光影藝術。"},
        "zh_Hans_CN": {"title": "港湾光影"},
    }
    assert event["description"] == "Light art by the water."
    assert moment(event["starts_at"]) == moment("2030-05-02T10:00:00+00:00")
    assert moment(event["ends_at"]) == moment("2030-05-02T15:30:00+00:00")
    assert event["categories"] == ["exhibition", "talk"]
    assert (event["early_entry_minutes"], event["retention_days"]) == (30, 90)
    assert event["waitlist_claim_minutes"] is None
    shown = site.browser.get(site.url(saved.headers["Location"]))
    assert "Saved." in shown.text and "Pier 4" in shown.text


def test_a_wrong_detail_is_said_beside_its_field_and_what_was_typed_is_kept(site):
    path = f"/organiser/events/{site.event_id}/details"

    wrong = send(site, path, {**DETAILS, "title": "", "retention_days": "forever"})

    assert wrong.status_code == 422
    assert said_beside(wrong, "title") and said_beside(wrong, "retention_days")
    assert "Enter a title (at most 200 characters)." in wrong.text
    assert 'value="Pier 4"' in wrong.text and 'value="forever"' in wrong.text
    assert 'value="talk" checked' in wrong.text
    backwards = send(site, path, {**DETAILS, "ends_at": "2030-05-02T17:00"})
    assert backwards.status_code == 422 and said_beside(backwards, "ends_at")
    assert 'value="2030-05-02T17:00"' in backwards.text
    assert event_of(site)["title"] == "Harbour Lights"


def test_ticket_types_are_added_and_changed(site):
    added = send(
        site,
        f"/organiser/events/{site.event_id}/ticket-types/new",
        {
            "name": "Press",
            "name-zh_Hant_HK": "傳媒",
            "quota": "5",
            "sales_opens_at": "2030-04-01T09:00",
            "sales_closes_at": "",
            "per_order_limit": "1",
            "requires_approval": "on",
        },
    )

    assert added.status_code == 303
    press = next(t for t in event_of(site)["ticket_types"] if t["name"] == "Press")
    assert (press["quota"], press["per_order_limit"], press["requires_approval"]) == (5, 1, True)
    assert moment(press["sales_opens_at"]) == moment("2030-04-01T01:00:00+00:00")
    assert press["sales_closes_at"] is None
    assert press["translations"] == {"zh_Hant_HK": {"name": "傳媒"}}
    path = f"/organiser/events/{site.event_id}/ticket-types/{press['id']}"
    form = site.browser.get(site.url(path))
    assert (
        'value="Press"' in form.text
        and 'id="requires_approval" name="requires_approval" value="on" checked' in form.text
    )

    changed = send(site, path, {"name": "Press and guests", "quota": "8", "per_order_limit": ""})

    assert changed.status_code == 303
    press = next(t for t in event_of(site)["ticket_types"] if t["id"] == press["id"])
    assert (press["name"], press["quota"], press["per_order_limit"]) == (
        "Press and guests",
        8,
        None,
    )
    assert press["requires_approval"] is False  # the box was left unticked


def test_a_wrong_ticket_type_is_said_beside_its_field(site):
    path = f"/organiser/events/{site.event_id}/ticket-types/new"

    wrong = send(site, path, {"name": "Press", "quota": "many"})
    closes_first = send(
        site,
        path,
        {
            "name": "Press",
            "quota": "5",
            "sales_opens_at": "2030-04-02T09:00",
            "sales_closes_at": "2030-04-01T09:00",
        },
    )

    assert wrong.status_code == 422 and said_beside(wrong, "quota")
    assert 'value="Press"' in wrong.text and 'value="many"' in wrong.text
    assert closes_first.status_code == 422 and said_beside(closes_first, "sales_closes_at")
    assert [t["name"] for t in event_of(site)["ticket_types"]] == ["General"]


def test_sessions_are_added_and_changed_and_kept_inside_the_event(site):
    path = f"/organiser/events/{site.event_id}/sessions/new"
    workshop = {
        "title": "Lantern workshop",
        "title-zh_Hant_HK": "燈籠工作坊",
        "starts_at": "2030-05-01T19:00",
        "ends_at": "2030-05-01T20:00",
        "capacity": "12",
    }

    added = send(site, path, workshop)
    outside = send(site, path, {**workshop, "starts_at": "2030-05-01T08:00"})

    assert added.status_code == 303
    [session] = event_of(site)["sessions"]
    assert (session["title"], session["capacity"]) == ("Lantern workshop", 12)
    assert session["translations"] == {"zh_Hant_HK": {"title": "燈籠工作坊"}}
    assert moment(session["starts_at"]) == moment("2030-05-01T11:00:00+00:00")
    assert outside.status_code == 422 and said_beside(outside, "starts_at")
    assert 'value="Lantern workshop"' in outside.text
    changed = send(
        site,
        f"/organiser/events/{site.event_id}/sessions/{session['id']}",
        {**workshop, "title-zh_Hant_HK": "", "capacity": "20"},
    )
    assert changed.status_code == 303
    [session] = event_of(site)["sessions"]
    assert (session["capacity"], session["translations"]) == (20, {})


def test_questions_and_consents_are_added_changed_and_removed(site):
    path = f"/organiser/events/{site.event_id}/questions/new"
    track = {
        "kind": "choice",
        "label": "Which track?",
        "label-zh_Hant_HK": "哪個主題？",
        "options": "AI\nArt\n",
        "options-zh_Hant_HK": "人工智能\n藝術",
        "required": "on",
    }

    no_options = send(site, path, {**track, "options": "", "options-zh_Hant_HK": ""})
    added = send(site, path, track)
    consent = send(site, path, {"kind": "consent", "label": "I agree.", "required": "on"})

    assert no_options.status_code == 422 and said_beside(no_options, "options")
    assert "Which track?</textarea>" in no_options.text
    assert added.status_code == consent.status_code == 303
    choice, agreement = event_of(site)["questions"]
    assert (choice["kind"], choice["options"], choice["required"]) == (
        "choice",
        ["AI", "Art"],
        True,
    )
    assert choice["translations"] == {
        "zh_Hant_HK": {"label": "哪個主題？", "options": ["人工智能", "藝術"]}
    }
    assert (agreement["kind"], agreement["label"]) == ("consent", "I agree.")

    question_path = f"/organiser/events/{site.event_id}/questions/{choice['id']}"
    unticked = {name: value for name, value in track.items() if name != "required"}
    too_few = send(site, question_path, {**track, "options": "AI\nArt\nSound"})
    assert too_few.status_code == 422 and said_beside(too_few, "options-zh_Hant_HK")
    changed = send(site, question_path, {**unticked, "label": "Your track"})
    assert changed.status_code == 303
    choice = event_of(site)["questions"][0]
    assert (choice["label"], choice["required"], choice["kind"]) == ("Your track", False, "choice")

    removed = send(site, f"{question_path}/remove", {})
    assert removed.status_code == 303 and removed.headers["Location"].endswith("done=removed")
    assert [q["id"] for q in event_of(site)["questions"]] == [agreement["id"]]


def test_questions_are_put_in_the_order_the_form_asks_them(site):
    path = f"/organiser/events/{site.event_id}/questions/new"
    for label in ("Name on the badge", "Which track?", "Dietary needs"):
        assert send(site, path, {"kind": "text", "label": label}).status_code == 303
    badge, track, diet = (q["id"] for q in event_of(site)["questions"])
    page = site.browser.get(site.url(f"/organiser/events/{site.event_id}"))

    def move(question_id: str, way: str) -> requests.Response:
        return site.browser.post(
            site.url(f"/organiser/events/{site.event_id}/questions/{question_id}/{way}"),
            data={"csrf": csrf_of(page)},
            allow_redirects=False,
        )

    assert "Move up<span" in page.text and "Move down<span" in page.text
    assert move(diet, "up").status_code == 303
    assert move(badge, "down").status_code == 303
    assert move(diet, "up").status_code == 303  # already first: stays first
    assert move(badge, "down").status_code == 303  # already last: stays last
    assert [q["id"] for q in event_of(site)["questions"]] == [diet, track, badge]
    assert move(str(uuid.uuid4()), "up").status_code == 404


def test_duplicating_makes_a_draft_with_the_same_set_up(site):
    send(site, f"/organiser/events/{site.event_id}/details", DETAILS)
    send(
        site,
        f"/organiser/events/{site.event_id}/sessions/new",
        {
            "title": "Talk",
            "starts_at": "2030-05-02T19:00",
            "ends_at": "2030-05-02T20:00",
            "capacity": "30",
        },
    )
    send(
        site,
        f"/organiser/events/{site.event_id}/questions/new",
        {"kind": "consent", "label": "I agree.", "required": "on"},
    )
    site.publish(site.event_id)
    page = site.browser.get(site.url(f"/organiser/events/{site.event_id}"))

    copied = site.browser.post(
        site.url(f"/organiser/events/{site.event_id}/duplicate"),
        data={"csrf": csrf_of(page)},
        allow_redirects=False,
    )

    assert copied.status_code == 303
    copy_id = re.search(r"/organiser/events/([0-9a-f-]{36})", copied.headers["Location"])[1]
    assert copy_id != site.event_id
    original, copy = event_of(site), event_of(site, copy_id)
    assert copy["status"] == "draft" and copy["title"] == "Harbour Lights 2030 (copy)"
    for same in ("translations", "venue", "starts_at", "categories", "retention_days"):
        assert copy[same] == original[same]

    def set_up(event):
        return (
            [(t["name"], t["quota"], t["confirmed"]) for t in event["ticket_types"]],
            [(s["title"], s["starts_at"], s["capacity"]) for s in event["sessions"]],
            [(q["kind"], q["label"], q["required"]) for q in event["questions"]],
        )

    assert set_up(copy) == set_up(original)
    assert {t["id"] for t in copy["ticket_types"]}.isdisjoint(
        t["id"] for t in original["ticket_types"]
    )
    shown = site.browser.get(site.url(copied.headers["Location"]))
    assert "This is the copy" in shown.text


def test_the_preview_shows_the_draft_form_sending_nothing(site):
    preview = site.browser.get(site.url(f"/organiser/events/{site.event_id}/preview"))

    assert preview.status_code == 200
    assert "Preview — not published" in preview.text
    assert '<fieldset class="preview" disabled>' in preview.text
    assert "Harbour Lights" in preview.text and "General" in preview.text
    assert site.get(f"/events/{site.event_id}", headers={"Accept": "text/html"}).status_code == 404
    outsider = site.get(f"/organiser/events/{site.event_id}/preview", allow_redirects=False)
    assert outsider.status_code == 303  # to the sign-in page


def test_a_viewer_reads_the_set_up_and_its_forms_change_nothing(embedded):
    tag = uuid.uuid4().hex[:6]
    owner = new_organisation(embedded, "Harbour Lights", f"owner-{tag}@example.com")
    created = embedded.post(f"{API}/events", json=EVENT, headers=owner)
    event_id = created.json()["id"]
    embedded.post(
        f"{API}/events/{event_id}/ticket-types", json={"name": "General", "quota": 9}, headers=owner
    )
    viewer_address = f"viewer-{tag}@example.com"
    invited = embedded.post(
        f"{API}/members/invitations",
        json={"email": viewer_address, "role": "viewer"},
        headers=owner,
    )
    assert invited.status_code == 201, invited.text
    assert accept(embedded, invitation_token(embedded, viewer_address), "Vera").status_code == 201
    viewer = signed_in_member(embedded, viewer_address)

    page = viewer.get(embedded.url(f"/organiser/events/{event_id}"))

    assert page.status_code == 200 and "General" in page.text and "0 / 9" in page.text
    for form_link in ("Change the event", "Add a ticket type", "Duplicate this event"):
        assert form_link not in page.text
    details = f"/organiser/events/{event_id}/details"
    assert viewer.get(embedded.url(details), allow_redirects=False).status_code == 303
    for path, form in (
        (details, {**DETAILS, "title": "Taken over"}),
        (f"/organiser/events/{event_id}/ticket-types/new", {"name": "Free", "quota": "999"}),
        (f"/organiser/events/{event_id}/duplicate", {}),
    ):
        refused = viewer.post(embedded.url(path), data={"csrf": csrf_of(page), **form})
        assert refused.status_code == 403
    event = embedded.get(f"{API}/organisation/events/{event_id}", headers=owner).json()
    assert event["title"] == "Harbour Lights" and len(event["ticket_types"]) == 1
