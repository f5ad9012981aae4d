"""The attendee's ticket page in headless Chromium (issue #6): in each language, the QR code
on the screen read back by zxing-cpp from a screenshot, big enough on a phone, nothing
loaded from anywhere once the page is there, and a printable layout."""

import io

import pytest
import zxingcpp
from PIL import Image

from tests.support import wait_until

PHONE = {"width": 390, "height": 844}

LANGUAGES = {
    "en": {
        "lang": "en",
        "status": "Valid ticket",
        "labels": ["Attendee", "Ticket type", "When", "Where"],
        "when": "(Hong Kong Standard Time)",
    },
    "zh_Hant_HK": {
        "lang": "zh-Hant-HK",
        "status": "有效門票",
        "labels": ["參加者", "門票類別", "時間", "地點"],
        "when": "（香港標準時間）",
    },
    "zh_Hans_CN": {
        "lang": "zh-Hans-CN",
        "status": "有效门票",
        "labels": ["参加者", "门票类型", "时间", "地点"],
        "when": "（香港标准时间）",
    },
}


@pytest.fixture
def attendee(embedded) -> dict:
    """A confirmed registration with its ticket, and the URL of its ticket page."""
    event_id, ticket_type_id = embedded.published_event(
        title="Harbour Lights 港燈夜", venue="Lok Ma Chau Loop, Hall A"
    )
    registration = embedded.registered(event_id, ticket_type_id, name="陳大文")
    ticket = embedded.wait_for_ticket(registration)
    url = embedded.url(
        f"/api/ticketing/pages/registrations/{registration['id']}/ticket"
        f"?token={registration['manage_token']}"
    )
    return {"registration": registration, "ticket": ticket, "url": url}


def qr_code_on_screen(page) -> str:
    """What a scanner reads off the QR code as the browser shows it."""
    shot = page.locator("figure.qr img").screenshot()
    barcodes = zxingcpp.read_barcodes(
        Image.open(io.BytesIO(shot)).convert("RGB"), formats=zxingcpp.BarcodeFormat.QRCode
    )
    assert len(barcodes) == 1, f"found {len(barcodes)} QR codes"
    return barcodes[0].text


@pytest.mark.parametrize("locale", sorted(LANGUAGES))
def test_the_ticket_page_shows_a_scannable_code_and_the_ticket_in_each_language(
    embedded, attendee, page, locale
):
    expected = LANGUAGES[locale]
    page.set_viewport_size(PHONE)
    requested = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto(f"{attendee['url']}&lang={locale}")

    assert page.get_attribute("html", "lang") == expected["lang"]
    assert page.inner_text(".status") == expected["status"]
    assert page.inner_text("h1") == "Harbour Lights 港燈夜"
    facts = page.inner_text("dl.facts")
    for label in expected["labels"]:
        assert label in facts
    assert "陳大文" in facts and "Lok Ma Chau Loop, Hall A" in facts
    assert expected["when"] in facts
    alt = page.get_attribute("figure.qr img", "alt")
    assert "陳大文" in alt and "Harbour Lights 港燈夜" in alt

    assert qr_code_on_screen(page) == attendee["ticket"]["payload"]
    # Big enough for a door scanner at arm's length: most of a phone's width.
    assert page.locator("figure.qr img").bounding_box()["width"] >= 300
    # Everything came with the page itself, so nothing is missing without a connection.
    assert requested == [page.url]
    page.context.set_offline(True)
    assert qr_code_on_screen(page) == attendee["ticket"]["payload"]


def test_the_language_links_keep_the_ticket_open_in_the_chosen_language(embedded, attendee, page):
    page.goto(attendee["url"])
    assert page.get_attribute("html", "lang") == "en"

    page.click("nav.languages a[lang='zh-Hant-HK']")

    assert page.get_attribute("html", "lang") == "zh-Hant-HK"
    assert page.inner_text(".status") == "有效門票"
    assert qr_code_on_screen(page) == attendee["ticket"]["payload"]
    page.goto(attendee["url"])  # the choice is remembered
    assert page.get_attribute("html", "lang") == "zh-Hant-HK"


def test_the_printed_page_keeps_the_code_and_drops_the_screen_only_parts(embedded, attendee, page):
    page.goto(attendee["url"])

    page.emulate_media(media="print")

    assert page.locator("nav.languages").is_hidden()
    assert page.locator(".hint").is_hidden()
    width = page.locator("figure.qr img").bounding_box()["width"]
    assert 250 <= width <= 280  # 7 cm at 96 CSS pixels an inch
    assert qr_code_on_screen(page) == attendee["ticket"]["payload"]


def test_a_revoked_ticket_shows_as_revoked_with_no_code(embedded, attendee, page):
    registration = attendee["registration"]
    assert embedded.cancel(registration).status_code == 200
    wait_until(
        lambda: embedded.ticket(registration).json()["status"] == "revoked", 15, "the revocation"
    )

    page.goto(f"{attendee['url']}&lang=zh_Hans_CN")

    assert page.inner_text(".status") == "此门票已作废"
    assert page.locator("img").count() == 0
