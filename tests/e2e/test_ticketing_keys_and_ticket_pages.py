"""A manager works with ticketing's organiser pages in Chromium: signs in once through the
organiser area's form, rotates the event's signing key, reads the warning before retiring
one, opens an attendee's ticket with its history and mail, and reissues it after being asked
once. Screenshots at 390 and 1366 px go to /tmp/shots (ticketing-*.png) for a person to
look at."""

import re
import uuid

from playwright.sync_api import expect

from tests.e2e.screens import shooter
from tests.support import PASSWORD, invited_member_headers

PAGES = "/api/ticketing/organiser"
shoot = shooter("ticketing")


def test_a_manager_rotates_keys_and_reissues_a_ticket_from_the_pages(embedded, page):
    flow = embedded
    address = f"manager-{uuid.uuid4().hex[:6]}@example.com"
    invited_member_headers(flow, flow.organiser, address, "manager")
    event_id, ticket_type_id = flow.published_event(title="Harbour Lights")
    registration = flow.registered(event_id, ticket_type_id, name="Ada Lovelace")
    flow.wait_for_ticket(registration)

    page.goto(f"{flow.base_url}{PAGES}/events/{event_id}/keys")
    page.get_by_label("Email address").fill(address)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name="Signing keys")).to_be_visible()
    page.get_by_role("button", name="Rotate: a new key signs new tickets").click()
    expect(page.get_by_role("status")).to_contain_text("A new key signs new tickets from now on")
    rows = page.get_by_role("table").get_by_role("row")
    expect(rows).to_have_count(3)  # the header and two keys
    expect(rows.nth(2)).to_contain_text("Signs new tickets")
    expect(rows.nth(1)).not_to_contain_text("Signs new tickets")
    shoot(page, "keys")

    rows.nth(1).get_by_role("link", name="Retire…").click()
    expect(page.get_by_role("heading", name=re.compile("^Retire key"))).to_be_visible()
    expect(page.get_by_role("list").last).to_contain_text("It signed 1 ticket that is still valid")
    shoot(page, "retire-key")
    page.get_by_role("link", name="No, go back").click()

    page.goto(f"{flow.base_url}{PAGES}/registrations/{registration['id']}/ticket")
    expect(page.get_by_role("heading", name="Ticket of Ada Lovelace")).to_be_visible()
    expect(page.get_by_text("Valid", exact=True)).to_be_visible()
    mail = page.get_by_role("table").last
    expect(mail).to_contain_text(re.compile("Sent|Queued|Sending"))
    page.get_by_role("button", name="Send the ticket mail again").click()
    expect(page.get_by_role("status")).to_contain_text("The ticket mail is queued")
    shoot(page, "ticket")

    page.get_by_role("link", name="Reissue…").click()
    expect(page.get_by_role("heading", name="Reissue the ticket of Ada Lovelace?")).to_be_visible()
    shoot(page, "reissue")
    page.get_by_role("button", name="Reissue the ticket").click()
    expect(page.get_by_role("status")).to_contain_text("The ticket is reissued")
    history = page.get_by_role("table").first
    expect(history).to_contain_text("Reissued by an organiser: a new ticket replaced it")
    shoot(page, "ticket-reissued")
    page.goto(f"{flow.base_url}{PAGES}/registrations/{registration['id']}/ticket?lang=zh_Hant_HK")
    expect(page.get_by_role("heading", name="Ada Lovelace 的門票")).to_be_visible()
    shoot(page, "ticket-zh-hant")
