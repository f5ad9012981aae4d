"""The doors of an event in the organiser's browser, signed in once, over real HTTP on a whole
embedded Loopgate: check-in lists added, changed and deleted from forms, a door device paired
from a QR code whose link redeems, and revoked; the live dashboard and its feeds with no
token pasted. Door members do the doors' work, viewers see it and change nothing, and other
organisations and members limited to other events find no such event (DESIGN.md, "Organisers
and their teams"; docs/architecture.md, "Door devices", "Dashboard and pages")."""

import io
import re
import uuid
from datetime import datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import cairosvg
import pytest
import requests
import zxingcpp
from PIL import Image

from tests.support import (
    CoreFlow,
    csrf_of,
    member_browser,
    module_loopgate,
    new_organisation,
    signed_in_member,
    wait_until,
)

AREA = "/api/checkin/organiser"
embedded = module_loopgate("doors")


class Showcase:
    """An organisation with a published event check-in knows (and a second one), and a
    browser signed in for each member asked for."""

    def __init__(self, flow: CoreFlow):
        self.flow = flow
        self.tag = uuid.uuid4().hex[:6]
        self.owner = new_organisation(flow, "Harbour Lights", self.address("owner"))
        self.event_id, self.ticket_type_id = self.published_event("Harbour Lights")
        self.other_event_id, _ = self.published_event("Kowloon Nights")

    def address(self, role: str) -> str:
        return f"{role}-{self.tag}@example.com"

    def published_event(self, title: str) -> tuple[str, str]:
        organiser = self.flow.organiser
        self.flow.organiser = self.owner
        try:
            event_id, ticket_type_id = self.flow.published_event(title=title)
        finally:
            self.flow.organiser = organiser
        wait_until(
            lambda: self.flow.get(
                f"/api/checkin/events/{event_id}/lists", headers=self.owner
            ).json(),
            15,
            "the event's default list in check-in",
        )
        return event_id, ticket_type_id

    def member(self, role: str, **fields) -> requests.Session:
        address = self.address(f"{role}-{uuid.uuid4().hex[:4]}")
        return member_browser(self.flow, self.owner, address, role, **fields)

    def page(self, browser: requests.Session, path: str, event_id: str | None = None):
        return browser.get(self.url(path, event_id), allow_redirects=False)

    def url(self, path: str, event_id: str | None = None) -> str:
        return self.flow.url(f"{AREA}/events/{event_id or self.event_id}{path}")

    def lists(self) -> list[dict]:
        path = f"/api/checkin/events/{self.event_id}/lists"
        return self.flow.get(path, headers=self.owner).json()

    def default_list_id(self) -> str:
        return next(item["id"] for item in self.lists() if item["is_default"])


@pytest.fixture(scope="module")
def showcase(embedded) -> Showcase:
    return Showcase(embedded)


def send(browser: requests.Session, url: str, form_page, **fields) -> requests.Response:
    """Post a form as the browser would, with the page's CSRF token."""
    return browser.post(url, data={"csrf": csrf_of(form_page), **fields}, allow_redirects=False)


def redirected_to_doors(response, showcase: Showcase, done: str) -> bool:
    location = response.headers.get("Location", "")
    return response.status_code == 303 and location.endswith(
        f"{AREA}/events/{showcase.event_id}/doors?done={done}"
    )


# --- lists ----------------------------------------------------------------------------------


def test_a_manager_adds_changes_and_deletes_a_list_from_the_forms(showcase):
    manager = showcase.member("manager")
    doors = showcase.page(manager, "/doors")
    assert doors.status_code == 200
    assert "Main entrance" in doors.text and "Add a gate or area" in doors.text

    form = showcase.page(manager, "/lists/new")
    added = send(
        manager,
        showcase.url("/lists"),
        form,
        name="VIP lounge",
        ticket_type_ids=showcase.ticket_type_id,
        opens_at="2030-05-01T18:00",
        closes_at="2030-05-01T23:00",
        reentry="unlimited",
    )
    assert redirected_to_doors(added, showcase, "added"), added.text
    vip = next(item for item in showcase.lists() if item["name"] == "VIP lounge")
    assert vip["ticket_type_ids"] == [showcase.ticket_type_id]
    assert vip["reentry"] == "unlimited"
    # Times are read in the event's time zone.
    opens_at = datetime(2030, 5, 1, 18, 0, tzinfo=ZoneInfo(vip["timezone"]))
    assert datetime.fromisoformat(vip["opens_at"]) == opens_at
    listed = showcase.page(manager, "/doors").text
    assert "VIP lounge" in listed and "Again after an exit scan" in listed

    change_form = showcase.page(manager, f"/lists/{vip['id']}")
    assert (
        'value="VIP lounge"' in change_form.text and 'value="2030-05-01T18:00"' in change_form.text
    )
    changed = send(
        manager,
        showcase.url(f"/lists/{vip['id']}"),
        change_form,
        name="VIP terrace",
        reentry="daily",
    )
    assert redirected_to_doors(changed, showcase, "changed"), changed.text
    terrace = next(item for item in showcase.lists() if item["id"] == vip["id"])
    assert (terrace["name"], terrace["reentry"], terrace["ticket_type_ids"]) == (
        "VIP terrace",
        "daily",
        None,  # no ticket type ticked: every one
    )
    assert terrace["opens_at"] is None

    confirm = showcase.page(manager, f"/lists/{vip['id']}/delete")
    assert confirm.status_code == 200
    assert "Delete the list “VIP terrace”?" in confirm.text and "cannot be undone" in confirm.text
    deleted = send(manager, showcase.url(f"/lists/{vip['id']}/delete"), confirm)
    assert redirected_to_doors(deleted, showcase, "deleted")
    assert vip["id"] not in {item["id"] for item in showcase.lists()}


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"name": "   "}, "name", "Enter a name"),
        ({"ticket_type_ids": str(uuid.uuid4())}, "ticket_type_ids", "Not a ticket type of this"),
        ({"ticket_type_ids": "general"}, "ticket_type_ids", "Choose ticket types of this"),
        ({"opens_at": "2030-13-45T99:00"}, "opens_at", "Enter when it opens as a date"),
        (
            {"opens_at": "2030-05-01T20:00", "closes_at": "2030-05-01T19:00"},
            "closes_at",
            "The entry window closes before it opens.",
        ),
        ({"reentry": "twice"}, "reentry", "Choose how often a ticket may come in."),
    ],
)
def test_bad_input_is_said_beside_its_field_with_what_was_typed_kept(
    showcase, fields, field, message
):
    manager = showcase.member("manager")
    before = showcase.lists()
    form = showcase.page(manager, "/lists/new")
    typed = {"name": "North gate", "reentry": "once", **fields}
    refused = send(manager, showcase.url("/lists"), form, **typed)
    assert refused.status_code == 422
    beside = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', refused.text)
    assert beside and message in beside.group(1), refused.text
    if typed["name"].strip():
        assert f'value="{typed["name"]}"' in refused.text
    assert showcase.lists() == before

    default = showcase.default_list_id()
    change_form = showcase.page(manager, f"/lists/{default}")
    again = send(manager, showcase.url(f"/lists/{default}"), change_form, **typed)
    assert again.status_code == 422
    assert showcase.lists() == before


# --- door devices -----------------------------------------------------------------------------


def pairing_link_in(page_text: str) -> str:
    """The link the pairing page's QR code holds, read from the image by zxing-cpp."""
    svg = re.search(r"<svg.*?</svg>", page_text, re.DOTALL).group(0)
    png = cairosvg.svg2png(bytestring=svg.encode(), output_width=600, background_color="white")
    (found,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    return found.text


def code_on(pairing_page) -> str:
    return re.search(r'id="pairing-code"[^>]*>([A-Z2-9]{4}-[A-Z2-9]{4})<', pairing_page.text).group(
        1
    )


def test_a_door_member_pairs_a_device_from_the_qr_code_and_revokes_it(showcase):
    door = showcase.member("door")
    doors = showcase.page(door, "/doors")
    assert "Pair a device" in doors.text
    default = showcase.default_list_id()

    paired_page = send(door, showcase.url(f"/lists/{default}/pairing-codes"), doors)
    assert paired_page.status_code == 201
    assert paired_page.headers["Cache-Control"] == "no-store"
    code = code_on(paired_page)
    assert "Valid for 10 minutes, for one device, once." in paired_page.text
    link = pairing_link_in(paired_page.text)
    assert link == showcase.flow.url(f"/api/checkin/scanner#pair={code}")
    assert urlsplit(link).path == "/api/checkin/scanner"

    # What the scanner page does with the link's code.
    redeemed = showcase.flow.post(
        "/api/checkin/pairing-codes/redeem", json={"code": code, "device_name": "East gate"}
    )
    assert redeemed.status_code == 201, redeemed.text
    device = redeemed.json()
    staff = {"Authorization": f"Bearer {device['token']}"}
    bundle = f"/api/checkin/events/{showcase.event_id}/bundle"
    assert showcase.flow.get(bundle, headers=staff).status_code == 200
    again = showcase.flow.post("/api/checkin/pairing-codes/redeem", json={"code": code})
    assert again.status_code == 404

    listed = showcase.page(door, "/doors").text
    assert "East gate" in listed and "none yet" in listed
    confirm = showcase.page(door, f"/devices/{device['device_id']}/revoke")
    assert "Revoke the device “East gate”?" in confirm.text
    revoked = send(door, showcase.url(f"/devices/{device['device_id']}/revoke"), confirm)
    assert redirected_to_doors(revoked, showcase, "revoked")
    assert showcase.flow.get(bundle, headers=staff).status_code == 401
    assert "Revoked" in showcase.page(door, "/doors").text


def test_deleting_a_list_keeps_its_devices_scanning_and_ends_its_unused_codes(showcase):
    manager = showcase.member("manager")
    form = showcase.page(manager, "/lists/new")
    send(manager, showcase.url("/lists"), form, name="Side door", reentry="once")
    side = next(item["id"] for item in showcase.lists() if item["name"] == "Side door")
    doors = showcase.page(manager, "/doors")
    pair = showcase.url(f"/lists/{side}/pairing-codes")
    used, unused = (code_on(send(manager, pair, doors)) for _ in range(2))
    device = showcase.flow.post("/api/checkin/pairing-codes/redeem", json={"code": used}).json()

    confirm = showcase.page(manager, f"/lists/{side}/delete")
    assert "keep scanning, and open on the default list" in confirm.text
    deleted = send(manager, showcase.url(f"/lists/{side}/delete"), confirm)
    assert redirected_to_doors(deleted, showcase, "deleted"), deleted.text
    devices = showcase.flow.get(
        f"/api/checkin/events/{showcase.event_id}/devices", headers=showcase.owner
    ).json()
    moved = next(item for item in devices if item["id"] == device["device_id"])
    assert moved["list_id"] == showcase.default_list_id()
    staff = {"Authorization": f"Bearer {device['token']}"}
    bundle = f"/api/checkin/events/{showcase.event_id}/bundle"
    assert showcase.flow.get(bundle, headers=staff).status_code == 200
    redeem = "/api/checkin/pairing-codes/redeem"
    assert showcase.flow.post(redeem, json={"code": unused}).status_code == 404


# --- who may do what ------------------------------------------------------------------------


def test_a_viewer_sees_the_doors_and_the_dashboard_but_every_form_is_refused(showcase):
    viewer = showcase.member("viewer")
    doors = showcase.page(viewer, "/doors")
    assert doors.status_code == 200 and "Main entrance" in doors.text
    for button in (">Pair a device</button>", "Add a gate or area", "Delete…", "Revoke…"):
        assert button not in doors.text
    assert showcase.page(viewer, "/dashboard").status_code == 200
    default = showcase.default_list_id()
    before = showcase.lists()
    for path, fields in (
        ("/lists", {"name": "Viewer gate", "reentry": "once"}),
        (f"/lists/{default}", {"name": "Renamed", "reentry": "once"}),
        (f"/lists/{default}/pairing-codes", {}),
        (f"/lists/{default}/delete", {}),
    ):
        refused = send(viewer, showcase.url(path), doors, **fields)
        assert refused.status_code == 403, path
        assert "Your role may look at the doors but not change them." in refused.text
    assert showcase.lists() == before


def test_a_post_without_the_forms_token_is_refused(showcase):
    manager = showcase.member("manager")
    before = showcase.lists()
    refused = manager.post(
        showcase.url("/lists"), data={"name": "Side door", "reentry": "once"}, allow_redirects=False
    )
    assert refused.status_code == 400
    assert "The form had expired" in refused.text
    assert showcase.lists() == before


PAGES = ("/doors", "/dashboard", "/stats", "/lists/new", "/scans.csv")


def test_another_organisation_and_a_member_of_other_events_find_no_such_event(showcase):
    stranger_address = f"stranger-{uuid.uuid4().hex[:6]}@example.com"
    new_organisation(showcase.flow, "Kowloon Labs", stranger_address)
    stranger = signed_in_member(showcase.flow, stranger_address)
    elsewhere = showcase.member("manager", event_ids=[showcase.other_event_id])
    default = showcase.default_list_id()
    paths = (*PAGES, f"/lists/{default}", f"/lists/{default}/delete", "/stats/live")
    for browser in (stranger, elsewhere):
        for path in paths:
            assert showcase.page(browser, path).status_code == 404, path
        doors = showcase.page(browser, "/doors", showcase.other_event_id)
        posted = send(browser, showcase.url(f"/lists/{default}/pairing-codes"), doors)
        assert posted.status_code == 404
    assert showcase.page(elsewhere, "/doors", showcase.other_event_id).status_code == 200


def test_signed_out_every_page_leads_to_the_sign_in_and_back(showcase):
    browser = requests.Session()
    for path in PAGES:
        answer = showcase.page(browser, path)
        assert answer.status_code == 303
        location = answer.headers["Location"]
        assert location.startswith("/organiser/login?next=")
        assert f"%2Fapi%2Fcheckin%2Forganiser%2Fevents%2F{showcase.event_id}" in location


# --- the dashboard ----------------------------------------------------------------------------


def test_the_dashboard_and_its_feeds_need_no_token_but_the_sign_in(showcase):
    owner = showcase.member("manager")
    dashboard = showcase.page(owner, "/dashboard")
    assert dashboard.status_code == 200
    assert "Organiser token" not in dashboard.text
    assert "data-signed-in" in dashboard.text and "dashboard.js" in dashboard.text
    assert f"{AREA}/events/{showcase.event_id}/doors" in dashboard.text
    assert f"{AREA}/events/{showcase.event_id}/dashboard" in showcase.page(owner, "/doors").text

    stats = showcase.page(owner, "/stats")
    assert stats.status_code == 200
    assert stats.json()["title"] == "Harbour Lights"
    assert {"checked_in", "inside", "tickets", "lists", "arrivals"} <= set(stats.json())

    live = owner.get(showcase.url("/stats/live"), params={"max_seconds": 1}, stream=True)
    assert live.headers["Content-Type"].startswith("text/event-stream")
    received = b""
    for chunk in live.iter_content(chunk_size=None):
        received += chunk
        if b"event: stats" in received:
            break
    live.close()
    assert received.startswith(b"retry:") and b'"title": "Harbour Lights"' in received

    csv = showcase.page(owner, "/scans.csv")
    assert csv.status_code == 200 and csv.headers["Content-Type"].startswith("text/csv")
    assert "Download scans (CSV)" in dashboard.text


def test_a_door_member_watches_the_dashboard_but_never_exports(showcase):
    door = showcase.member("door")
    dashboard = showcase.page(door, "/dashboard")
    assert dashboard.status_code == 200
    assert "Download scans (CSV)" not in dashboard.text
    assert showcase.page(door, "/scans.csv").status_code == 403
    assert showcase.page(door, "/stats").status_code == 200


# --- one attendee's check-ins ---------------------------------------------------------------


def test_an_attendees_entries_and_exits_are_listed_gate_by_gate(showcase):
    flow = showcase.flow
    registration = flow.registered(showcase.event_id, showcase.ticket_type_id, name="陳大文")
    ticket = flow.wait_for_ticket(registration)
    roster = f"/api/checkin/tickets/{ticket['id']}"
    wait_until(
        lambda: flow.get(roster, headers=showcase.owner).status_code == 200, 15, "the roster"
    )
    page = f"{AREA}/registrations/{registration['id']}/check-ins"
    manager = showcase.member("manager")

    before = manager.get(flow.url(page))
    assert before.status_code == 200 and "Not checked in yet." in before.text
    admitted = flow.post(
        "/api/checkin/scans",
        json={"scan_id": str(uuid.uuid4()), "payload": ticket["payload"]},
        headers=showcase.owner,
    )
    assert admitted.json()["verdict"] == "ok", admitted.text

    after = manager.get(flow.url(page))
    assert "Check-ins of 陳大文" in after.text and "Main entrance" in after.text
    assert "inside" in after.text and "Not checked in yet." not in after.text
    stranger_address = f"stranger-{uuid.uuid4().hex[:6]}@example.com"
    new_organisation(flow, "Kowloon Labs", stranger_address)
    stranger = signed_in_member(flow, stranger_address)
    assert stranger.get(flow.url(page)).status_code == 404
    unknown = manager.get(flow.url(f"{AREA}/registrations/{uuid.uuid4()}/check-ins"))
    assert unknown.status_code == 404
