"""The live dashboard in headless Chromium: it opens with the organiser token and keeps it in
the page's memory only, never in the browser's storage, where any script of the site could
read it long after (issue #14); its Content-Security-Policy blocks nothing it needs."""

from playwright.sync_api import expect

from tests.support import ORGANISER_TOKEN

OLD_STORAGE_KEY = "loopgate.organiser.token"


def test_the_dashboard_keeps_the_organiser_token_out_of_the_browsers_storage(embedded, page):
    event_id, _ = embedded.published_event(title="Harbour Lights")
    refused = []
    page.on("console", lambda message: refused.append(message.text))
    page.goto(embedded.url(f"/api/checkin/dashboard?event={event_id}"))
    # What an earlier version left behind is taken away.
    page.evaluate(f"localStorage.setItem('{OLD_STORAGE_KEY}', '{ORGANISER_TOKEN}')")
    page.reload()

    page.fill("#token", ORGANISER_TOKEN)
    page.click("#token-form button")

    expect(page.locator("#title")).to_have_text("Harbour Lights")
    expect(page.locator("#live-status")).to_have_class("online")
    storage = page.evaluate("JSON.stringify([{...localStorage}, {...sessionStorage}])")
    assert ORGANISER_TOKEN not in storage
    assert ORGANISER_TOKEN not in str(page.context.cookies())
    page.reload()
    expect(page.locator("#token-form")).to_be_visible()
    assert not [text for text in refused if "Content Security Policy" in text]
