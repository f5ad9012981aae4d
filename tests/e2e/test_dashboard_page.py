"""The live dashboard in headless Chromium: it opens with the organiser token and keeps it in
the page's memory only, never in the browser's storage, where any script of the site could
read it long after (issue #14); its Content-Security-Policy blocks nothing it needs. It looks
like the site, keeps its event across languages and labels its chart legibly (issue 16)."""

import itertools
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
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


def test_the_token_box_has_the_sites_look_a_label_and_an_explanation(embedded, page):
    event_id, _ = embedded.published_event(title="Harbour Lights")
    page.goto(embedded.url(f"/api/checkin/dashboard?event={event_id}"))

    token = page.get_by_label("Organiser token")
    expect(token).to_be_visible()
    hint = page.locator("#token-hint")
    assert "token-hint" in token.get_attribute("aria-describedby")
    assert "asks again" in hint.inner_text()
    expect(page.locator("header.site .brand")).to_have_text("Loopgate")
    looks = token.evaluate(
        "input => { const s = getComputedStyle(input); return [s.borderTopWidth, s.display] }"
    )
    assert looks == ["2px", "block"], "the site's input, not the browser's default box"
    button = page.get_by_role("button", name="Open the dashboard")
    assert button.evaluate("b => getComputedStyle(b).color") == "rgb(255, 255, 255)"


def test_the_language_links_keep_the_event(embedded, page):
    event_id, _ = embedded.published_event(title="Harbour Lights")
    page.goto(embedded.url(f"/api/checkin/dashboard?event={event_id}"))

    page.get_by_role("link", name="繁體中文").click()
    assert f"event={event_id}" in page.url
    page.fill("#token", ORGANISER_TOKEN)
    page.click("#token-form button")
    expect(page.locator("#title")).to_have_text("Harbour Lights")
    assert page.locator("html").get_attribute("lang") == "zh-Hant-HK"


def stats_with_arrivals(count: int) -> dict:
    """The stats API's answer, with `count` five-minute buckets of arrivals from 6 pm."""
    start = datetime(2030, 5, 1, 10, 0, tzinfo=UTC)
    return {
        "event_id": "e",
        "title": "Harbour Lights",
        "timezone": "Asia/Hong_Kong",
        "tickets": 500,
        "checked_in": 300,
        "inside": 280,
        "scans": {},
        "lists": [],
        "ticket_types": [],
        "arrivals": [
            {"starts_at": (start + timedelta(minutes=5 * i)).isoformat(), "count": 1 + i % 7}
            for i in range(count)
        ],
    }


BOXES_OF_THE_CHART_AND_ITS_LABELS = """() => {
  const box = (element) => {
    const { x, width, height } = element.getBoundingClientRect();
    return { x, width, height };
  };
  const ticks = [...document.querySelectorAll("#arrivals .tick")];
  return [box(document.querySelector("#arrivals svg")), ticks.map(box)];
}"""


@pytest.mark.parametrize("width", [390, 1366])
@pytest.mark.parametrize("buckets", [3, 12, 100])
def test_the_charts_time_labels_are_few_and_never_overlap(embedded, browser, width, buckets):
    event_id, _ = embedded.published_event(title="Harbour Lights")
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    stats = json.dumps(stats_with_arrivals(buckets))
    page.route(
        re.compile(r".*/stats$"),
        lambda route: route.fulfill(content_type="application/json", body=stats),
    )
    page.route(
        re.compile(r".*/stats/live$"),
        lambda route: route.fulfill(
            content_type="text/event-stream", body=f"event: stats\ndata: {stats}\n\n"
        ),
    )
    try:
        page.goto(embedded.url(f"/api/checkin/dashboard?event={event_id}"))
        page.fill("#token", ORGANISER_TOKEN)
        page.click("#token-form button")
        expect(page.locator("#arrivals rect")).to_have_count(buckets)

        # In one go: the live stream redraws the chart every few seconds.
        chart, labels = page.evaluate(BOXES_OF_THE_CHART_AND_ITS_LABELS)
        assert 1 <= len(labels) <= 6, labels
        for box in labels:
            assert chart["x"] <= box["x"] and box["x"] + box["width"] <= chart["x"] + chart["width"]
            assert box["height"] >= 10, "readable on a phone too"
        for left, right in itertools.pairwise(sorted(labels, key=lambda box: box["x"])):
            assert left["x"] + left["width"] + 8 <= right["x"], (left, right)
    finally:
        context.close()
