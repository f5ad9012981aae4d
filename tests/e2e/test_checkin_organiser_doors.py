"""The doors of an event in Chromium, for a member signed in once: the doors page, a door
device paired by opening the pairing QR code's link in another browser (as a phone's camera
app does), a list's mistake said beside its field, and the live dashboard with its figures and
no token asked for. Screenshots at 390 and 1366 px go to /tmp/shots (doors-*.png) for a
person to look at."""

import re
import uuid

from playwright.sync_api import expect

from tests.e2e.screens import SHOTS, shooter
from tests.support import PASSWORD, invited_member_headers, new_organisation, wait_until

shoot = shooter("doors")


def an_event_with_an_arrival(flow) -> tuple[str, str]:
    """An organisation's published event with one ticket checked in: its manager's address
    and the event's id."""
    tag = uuid.uuid4().hex[:6]
    owner = new_organisation(flow, "Harbour Lights", f"owner-{tag}@example.com")
    manager_address = f"manager-{tag}@example.com"
    manager = invited_member_headers(flow, owner, manager_address, "manager")
    flow.organiser = manager
    event_id, ticket_type_id = flow.published_event(title="Harbour Lights")
    ticket = flow.wait_for_ticket(flow.registered(event_id, ticket_type_id, name="Grace Hopper"))
    flow.wait_until_in_roster(ticket["id"])
    assert flow.scan(ticket["payload"])["verdict"] == "ok"
    return manager_address, event_id


def sign_in(page, flow, address: str, next_path: str) -> None:
    page.goto(flow.url(next_path))
    # Signed out, the page leads to the sign-in, and back after it.
    expect(page).to_have_url(re.compile(r"/organiser/login\?next="))
    page.get_by_label("Email address").fill(address)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(flow.url(next_path))


def test_a_member_pairs_a_phone_from_the_doors_page_and_watches_the_dashboard(
    embedded, page, browser
):
    address, event_id = an_event_with_an_arrival(embedded)
    doors = f"/api/checkin/organiser/events/{event_id}/doors"
    sign_in(page, embedded, address, doors)
    expect(page.get_by_role("heading", name="Doors of Harbour Lights")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("Main entrance"))).to_be_visible()
    shoot(page, "doors")

    page.get_by_role("link", name="Add a gate or area").click()
    page.get_by_label("Name", exact=True).fill("North gate")
    page.get_by_label("Opens (local time, optional)").fill("2030-05-01T20:00")
    page.get_by_label("Closes (local time, optional)").fill("2030-05-01T19:00")
    page.get_by_label("Again after an exit scan").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("The entry window closes before it opens.")
    expect(page.get_by_label("Closes (local time, optional)")).to_have_attribute(
        "aria-invalid", "true"
    )
    assert page.get_by_label("Name", exact=True).input_value() == "North gate"
    shoot(page, "list-error")
    page.get_by_label("Closes (local time, optional)").fill("2030-05-01T23:00")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("The list is added.")

    north = page.get_by_role("row", name=re.compile("North gate"))
    north.get_by_role("button", name="Pair a device").click()
    expect(page.get_by_text("Valid for 10 minutes, for one device, once.")).to_be_visible()
    code = page.locator("#pairing-code").inner_text()
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}", code)
    link = page.locator("#pairing-link").get_attribute("href")
    assert link == embedded.url(f"/api/checkin/scanner#pair={code}")
    shoot(page, "pairing")

    # The phone: its camera app opens the QR code's link in the phone's browser.
    phone = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        scanner = phone.new_page()
        scanner.goto(link)
        expect(scanner.locator("#scanner")).to_be_visible()
        expect(scanner.locator("#event-title")).to_have_text("Paired to Harbour Lights")
        expect(scanner.locator("#list")).to_have_value(re.compile(".+"))
        assert scanner.locator("#list option:checked").inner_text() == "North gate"
        # The code leaves the address once used.
        assert scanner.url == embedded.url("/api/checkin/scanner")
        assert scanner.evaluate("document.documentElement.scrollWidth") <= 390
        scanner.screenshot(path=SHOTS / "doors-phone-paired-390.png", full_page=True)

        # A second code opened in the same tab (only the fragment changes) pairs it again.
        page.get_by_role("link", name="Done: back to the doors").click()
        page.get_by_role("row", name=re.compile("Main entrance")).get_by_role(
            "button", name="Pair a device"
        ).click()
        scanner.goto(page.locator("#pairing-link").get_attribute("href"))
        expect(scanner.locator("#list option:checked")).to_have_text("Main entrance")
        assert scanner.url == embedded.url("/api/checkin/scanner")
    finally:
        phone.close()

    page.get_by_role("link", name="Done: back to the doors").click()
    devices = page.get_by_role("row", name=re.compile("Door device"))
    expect(devices).to_have_count(2)
    expect(devices.first).to_contain_text("North gate")
    shoot(page, "doors-with-a-device")

    page.get_by_role("link", name="Live dashboard").click()
    expect(page.locator("#title")).to_have_text("Harbour Lights")
    expect(page.locator("#live-status")).to_have_class("online")
    expect(page.locator("#checked-in")).to_have_text("1")
    expect(page.locator("#per-list")).to_contain_text("Main entrance")
    expect(page.get_by_role("link", name="Download scans (CSV)")).to_be_visible()
    assert page.locator("#token").count() == 0
    wait_until(lambda: page.locator("#arrivals svg rect.bar").count() > 0, 10, "the chart")
    shoot(page, "dashboard")
    page.get_by_role("link", name="Gates, pairing and door devices").click()
    expect(page).to_have_url(embedded.url(doors))

    page.get_by_role("link", name="繁體中文").click()
    expect(page.get_by_role("heading", name="Harbour Lights 的入口")).to_be_visible()
    shoot(page, "doors-zh-Hant")


def test_the_scanners_pairing_form_fits_a_phone(embedded, page):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(embedded.url("/api/checkin/scanner"))
    field = page.locator("#pair-code")
    expect(field).to_be_visible()
    box = field.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=SHOTS / "doors-scanner-pairing-390.png", full_page=True)
