"""A team runs a showcase in Chromium from the pages alone, as a newcomer would after
`make run`: the owner follows the printed invitation link and invites a manager and a door
member (who find their invitations in the mailbox page); the manager sets the showcase up
(two ticket types, one needing approval, a session, a choice question, a consent), publishes
it and adds two gates; an attendee registers on the public page; the door member pairs a
phone by the pairing QR code (read back from the screen by zxing-cpp, as the phone's camera
would, and opened) and that phone, set to Hong Kong Chinese, scans the attendee's ticket, read
off the ticket page the same way, naming the ticket type as the organiser wrote it in Chinese;
the dashboard shows the arrival. The test itself calls no API. Screenshots at 390 and 1366 px
go to /tmp/shots (showcase-*.png) for a person to look at."""

import io
import re
import time
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import zxingcpp
from PIL import Image
from playwright.sync_api import expect

from services.demo import demo_owner_invitation
from tests.e2e.screens import LAPTOP, shooter
from tests.support import PASSWORD

PHONE = {"width": 390, "height": 844}
# Each person's page keeps its own screen (a phone stays a phone) after its screenshots.
shoot = shooter("showcase", then=None)


def person(browser, viewport=LAPTOP, locale="en-GB"):
    page = browser.new_context(viewport=viewport, locale=locale).new_page()
    page.set_default_timeout(15_000)
    return page


def qr_code_in(locator) -> str:
    """What a camera reads off the QR code as the browser shows it."""
    shot = locator.screenshot()
    image = Image.open(io.BytesIO(shot)).convert("RGB")
    barcodes = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(barcodes) == 1, f"found {len(barcodes)} QR codes"
    return barcodes[0].text


def link_in_mail(page, base_url: str, address: str, subject: str, href_part: str) -> str:
    """Open the newest mail to `address` whose subject has `subject` in the local mailbox
    page: the address of its link containing `href_part`."""
    deadline = time.monotonic() + 20
    while True:
        page.goto(f"{base_url}/api/ticketing/mailbox")
        row = page.locator("tr", has_text=address).filter(has_text=subject)
        if row.count():
            break
        assert time.monotonic() < deadline, f"no mail '{subject}' to {address}"
        time.sleep(0.3)
    row.first.get_by_role("link", name="Read").click()
    link = urlsplit(page.locator(f"a[href*='{href_part}']").first.get_attribute("href"))
    # The mail names the instance's public address (LOOPGATE_PUBLIC_URL); this one's port
    # is the test's own.
    return f"{base_url}{link.path}"


def join(page, url: str, name: str) -> None:
    page.goto(url)
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Join the team").click()
    expect(page.get_by_role("navigation", name="Organiser area")).to_be_visible()


def invite(page, base_url: str, address: str, role: str) -> None:
    page.goto(f"{base_url}/organiser/team")
    page.get_by_label("Email address").fill(address)
    page.get_by_label(re.compile(f"^{role}:")).check()
    page.get_by_role("button", name="Send the invitation").click()
    expect(page.get_by_role("status")).to_have_text("The invitation is on its way.")


def local(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


def set_up_the_showcase(page, base_url: str) -> str:
    """The manager's part: the event's page address once it is published with two gates."""
    page.goto(f"{base_url}/organiser/")
    page.get_by_label("Title", exact=True).fill("Harbour Lights")
    page.get_by_label("Venue").fill("Pier 4")
    # Tonight in Hong Kong (the zone offered first): the doors open as the test runs.
    now = datetime.now(ZoneInfo("Asia/Hong_Kong")).replace(second=0, microsecond=0)
    page.get_by_label("Starts (local time)").fill(local(now - timedelta(hours=1)))
    page.get_by_label("Ends (local time)").fill(local(now + timedelta(hours=5)))
    page.get_by_label("First ticket type").fill("General")
    page.get_by_label("Places").fill("100")
    page.get_by_role("button", name="Create the draft").click()
    expect(page.get_by_role("heading", name=re.compile("Harbour Lights"))).to_be_visible()
    event_page = page.url

    page.get_by_role("row", name=re.compile("^General")).get_by_role("link").click()
    page.get_by_label("Name in Traditional Chinese (optional)").fill("普通門票")
    page.get_by_role("button", name="Save").click()

    page.get_by_role("link", name="Add a ticket type").click()
    page.get_by_label("Name", exact=True).fill("Press")
    page.get_by_label("Places").fill("5")
    page.get_by_label("Each registration waits for an organiser's approval").check()
    page.get_by_role("button", name="Save").click()
    page.get_by_role("link", name="Add a session").click()
    page.get_by_label("Title", exact=True).fill("Lantern workshop")
    page.get_by_label("Starts (local time)").fill(local(now + timedelta(hours=1)))
    page.get_by_label("Ends (local time)").fill(local(now + timedelta(hours=2)))
    page.get_by_label("Seats").fill("12")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("link", name="Add a question or consent").click()
    page.get_by_label("Kind").select_option(label="One choice")
    page.get_by_label("Question", exact=True).fill("Which track?")
    page.get_by_label("Options (choices only)").fill("AI\nArt")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("link", name="Add a question or consent").click()
    page.get_by_label("Kind").select_option(label="Consent (a box to tick)")
    page.get_by_label("Question", exact=True).fill("I agree to the privacy notice.")
    page.get_by_label("An answer is required").check()
    page.get_by_role("button", name="Save").click()
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("status")).to_have_text("Published.")
    shoot(page, "event")

    page.get_by_role("link", name="Gates and door devices").click()
    for gate in ("East gate", "West gate"):
        add = page.get_by_role("link", name="Add a gate or area")
        deadline = time.monotonic() + 15
        while not add.count():  # check-in learns of the event from the bus
            assert time.monotonic() < deadline, "check-in never learnt of the event"
            time.sleep(0.3)
            page.reload()
        add.click()
        page.get_by_label("Name", exact=True).fill(gate)
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_role("status")).to_have_text("The list is added.")
    expect(page.get_by_role("row", name=re.compile("West gate"))).to_be_visible()
    return event_page


def register(page, base_url: str) -> str:
    """The attendee's part: what their ticket's QR code says."""
    page.goto(f"{base_url}/")
    page.get_by_role("link", name="Harbour Lights").click()
    page.get_by_label("Name", exact=True).fill("陳大文")
    page.get_by_label("Email").fill("chan@example.com")
    page.get_by_label(re.compile("^General")).check()
    page.get_by_label(re.compile("^Lantern workshop")).check()
    page.get_by_label("Art", exact=True).check()
    page.get_by_label(re.compile("I agree to the privacy notice.")).check()
    page.get_by_role("button", name="Register").click()
    page.get_by_role("link", name="Your ticket (QR code)").click()
    deadline = time.monotonic() + 20
    while not page.locator("figure.qr img").count():  # ticketing issues it from the bus
        assert time.monotonic() < deadline, "the ticket was never issued"
        time.sleep(0.3)
        page.reload()
    shoot(page, "ticket")
    return qr_code_in(page.locator("figure.qr img"))


def test_a_team_runs_a_showcase_from_set_up_to_the_door_from_the_pages(embedded, browser):
    base_url = embedded.base_url
    owner = person(browser)
    join(owner, f"{base_url}{demo_owner_invitation(embedded.system)}", "Olive Owner")
    invite(owner, base_url, "mina@example.com", "Manager")
    invite(owner, base_url, "dev@example.com", "Door")
    shoot(owner, "team")

    manager = person(browser)
    join(manager, link_in_mail(owner, base_url, "mina@example.com", "", "/invitations/"), "Mina")
    event_page = set_up_the_showcase(manager, base_url)
    ticket_code = register(person(browser, PHONE), base_url)

    door = person(browser)
    join(door, link_in_mail(owner, base_url, "dev@example.com", "", "/invitations/"), "Dev")
    door.goto(event_page)
    door.get_by_role("link", name=re.compile("Gates and door devices")).click()
    door.get_by_role("row", name=re.compile("East gate")).get_by_role(
        "button", name="Pair a device"
    ).click()
    pairing_link = qr_code_in(door.locator(".pairing-qr"))
    shoot(door, "pairing")

    # A door phone set to Hong Kong Chinese: the scanner's texts and the organiser's name of
    # the ticket type in that language.
    phone = person(browser, PHONE, locale="zh-HK")
    phone.goto(pairing_link)  # what the phone's camera app opens
    expect(phone.locator("#event-title")).to_have_text("已配對：Harbour Lights")
    phone.locator("#code").focus()
    phone.keyboard.type(ticket_code)  # a handheld scanner types, then presses Enter
    phone.keyboard.press("Enter")
    expect(phone.locator("#verdict-label")).to_have_text("歡迎進場")
    expect(phone.locator("#verdict-name")).to_contain_text("陳大文")
    expect(phone.locator("#verdict-type")).to_have_text("普通門票")
    shoot(phone, "scan")

    door.goto(event_page)
    door.get_by_role("link", name=re.compile("live dashboard", re.IGNORECASE)).click()
    expect(door.locator("#checked-in")).to_have_text("1")
    shoot(door, "dashboard")
