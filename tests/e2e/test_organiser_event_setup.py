"""An organiser sets an event up in Chromium from the pages alone: signs in, creates the draft,
adds a ticket type needing approval, a session, a choice question and a consent, previews the
form, publishes, and the public page shows them all. Screenshots at 390 and 1366 px go to
/tmp/shots (setup-*.png) for a person to look at."""

import re

from playwright.sync_api import expect

from tests.e2e.screens import shooter
from tests.support import ORGANISER_TOKEN

shoot = shooter("setup")


def test_an_organiser_sets_up_and_publishes_an_event_from_the_pages(embedded, page):
    page.goto(f"{embedded.base_url}/organiser/")
    page.get_by_text("Sign in with the bootstrap token").click()
    page.get_by_label("Organiser token").fill(ORGANISER_TOKEN)
    page.get_by_role("button", name="Sign in with the token").click()

    page.get_by_label("Title", exact=True).fill("Harbour Lights")
    page.get_by_label("Venue").fill("Pier 4")
    page.get_by_label("Starts (local time)").fill("2030-05-01T18:00")
    page.get_by_label("Ends (local time)").fill("2030-05-01T23:00")
    page.get_by_label("First ticket type").fill("General")
    page.get_by_label("Places").fill("100")
    page.get_by_role("button", name="Create the draft").click()
    expect(page.get_by_role("heading", name=re.compile("Harbour Lights"))).to_be_visible()
    event_page = page.url

    page.get_by_role("link", name="Add a ticket type").click()
    page.get_by_label("Name", exact=True).fill("Press")
    page.get_by_label("Places").fill("-3")
    page.get_by_role("button", name="Save").click()
    # The mistake is said beside its field, and what was typed is kept.
    expect(page.get_by_role("alert")).to_contain_text("Enter the number of places")
    expect(page.get_by_label("Places")).to_have_attribute("aria-invalid", "true")
    assert page.get_by_label("Name", exact=True).input_value() == "Press"
    shoot(page, "ticket-type-error")
    page.get_by_label("Places").fill("5")
    page.get_by_label("Each registration waits for an organiser's approval").check()
    page.get_by_role("button", name="Save").click()
    assert page.get_by_role("status").inner_text() == "Saved."

    page.get_by_role("link", name="Add a session").click()
    page.get_by_label("Title", exact=True).fill("Lantern workshop")
    page.get_by_label("Title in Traditional Chinese (optional)").fill("燈籠工作坊")
    page.get_by_label("Starts (local time)").fill("2030-05-01T19:00")
    page.get_by_label("Ends (local time)").fill("2030-05-01T20:00")
    page.get_by_label("Seats").fill("12")
    page.get_by_role("button", name="Save").click()

    page.get_by_role("link", name="Add a question or consent").click()
    page.get_by_label("Kind").select_option(label="One choice")
    page.get_by_label("Question", exact=True).fill("Which track?")
    page.get_by_label("Options (choices only)").fill("AI\nArt")
    page.get_by_label("An answer is required").check()
    shoot(page, "question-form")
    page.get_by_role("button", name="Save").click()

    # With the keyboard alone: the link, the fields and the button.
    page.get_by_role("link", name="Add a question or consent").focus()
    page.keyboard.press("Enter")
    page.get_by_label("Kind").focus()
    page.keyboard.press("End")  # the last kind: a consent
    page.keyboard.press("Tab")
    page.keyboard.type("I agree to the privacy notice.")
    page.get_by_label("An answer is required").focus()
    page.keyboard.press("Space")
    page.get_by_role("button", name="Save").focus()
    page.keyboard.press("Enter")
    assert page.get_by_role("status").inner_text() == "Saved."
    shoot(page, "event-set-up")

    page.get_by_role("link", name="Preview the public form").click()
    expect(page.get_by_role("note")).to_contain_text("Preview — not published")
    expect(page.get_by_role("button", name="Register")).to_be_disabled()
    shoot(page, "preview")

    page.goto(event_page)
    page.get_by_role("button", name="Publish").click()
    assert page.get_by_role("status").inner_text() == "Published."

    page.goto(f"{embedded.base_url}/")
    page.get_by_role("link", name="Harbour Lights").click()
    expect(page.get_by_label(re.compile("^Press"))).to_be_visible()
    expect(page.get_by_text("needs the organiser's approval")).to_be_visible()
    expect(page.get_by_label(re.compile("^Lantern workshop"))).to_be_visible()
    expect(page.get_by_role("group", name=re.compile("Which track?"))).to_be_visible()
    expect(page.get_by_label("AI", exact=True)).to_be_visible()
    expect(page.get_by_label(re.compile("I agree to the privacy notice."))).to_be_visible()
    shoot(page, "public-page")
