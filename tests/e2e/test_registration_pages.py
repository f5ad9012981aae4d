"""Attendees and organisers on the real pages in headless Chromium: registering in each
language, with the keyboard only, errors announced beside their fields; the organiser's login,
registration list and actions."""

import re

import pytest
from playwright.sync_api import expect

from tests.support import ORGANISER_TOKEN

API = "/api/registration"

LANGUAGES = {
    # locale: (the event's title there, the submit button, the confirmation heading, "Confirmed")
    "en": ("Harbour Lights", "Register", "Thank you for registering", "Confirmed"),
    "zh_Hant_HK": ("港灣光影", "登記", "多謝登記", "已確認"),
    "zh_Hans_CN": ("港湾光影", "报名", "感谢报名", "已确认"),
}


def showcase(flow, quota=10) -> dict:
    """A published showcase with a workshop, a choice and a required consent."""
    event_id = flow.create_event(
        title="Harbour Lights",
        translations={"zh_Hant_HK": {"title": "港灣光影"}, "zh_Hans_CN": {"title": "港湾光影"}},
    )
    flow.add_ticket_type(event_id, quota=quota)
    track = flow.post(
        f"{API}/events/{event_id}/questions",
        json={
            "kind": "choice",
            "label": "Track",
            "options": ["AI", "Art"],
            "required": True,
            "translations": {
                "zh_Hant_HK": {"label": "主題", "options": ["人工智能", "藝術"]},
                "zh_Hans_CN": {"label": "主题", "options": ["人工智能", "艺术"]},
            },
        },
        headers=flow.organiser,
    ).json()
    consent = flow.post(
        f"{API}/events/{event_id}/questions",
        json={
            "kind": "consent",
            "label": "I agree to the privacy notice.",
            "required": True,
            "translations": {
                "zh_Hant_HK": {"label": "我同意私隱政策聲明。"},
                "zh_Hans_CN": {"label": "我同意隐私政策。"},
            },
        },
        headers=flow.organiser,
    ).json()
    flow.publish(event_id)
    return {"id": event_id, "track": track["id"], "consent": consent["id"]}


@pytest.mark.parametrize("locale", list(LANGUAGES))
def test_an_attendee_registers_through_the_page_in_each_language(embedded, page, locale):
    title, submit, thanks, confirmed = LANGUAGES[locale]
    event = showcase(embedded)

    page.goto(f"{embedded.base_url}/?lang={locale}")
    page.get_by_role("link", name=title).click()
    assert page.locator("html").get_attribute("lang") == locale.replace("_", "-")
    page.get_by_label(re.compile("Name|姓名")).fill("陳大文")
    page.get_by_label(re.compile("Email|電郵|邮箱")).fill(f"tai.man.{locale}@example.com")
    page.locator(f"input[name='answer-{event['track']}']").first.check()
    page.locator(f"#answer-{event['consent']}").check()
    page.get_by_role("button", name=submit).click()

    expect(page.get_by_role("heading", name=thanks)).to_be_visible()
    assert page.locator("#status").inner_text() == confirmed
    manage_link = page.locator("a.manage-link").inner_text()
    assert "token=" in manage_link
    listed = embedded.get(
        f"{API}/events/{event['id']}/registrations", headers=embedded.organiser
    ).json()
    assert [(r["attendee"]["name"], r["language"]) for r in listed] == [("陳大文", locale)]


def test_the_form_works_with_the_keyboard_alone_and_announces_errors(embedded, page):
    event = showcase(embedded)
    page.goto(f"{embedded.base_url}/events/{event['id']}?lang=zh_Hant_HK")

    def tab_to(selector: str, limit: int = 40) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate(f"document.activeElement.matches({selector!r})"):
                return
        raise AssertionError(f"Tab never reached {selector}")

    tab_to("button[type=submit]")
    page.keyboard.press("Enter")

    summary = page.get_by_role("alert")
    assert "請檢查表格" in summary.inner_text()
    name = page.locator("#name")
    assert name.get_attribute("aria-invalid") == "true"
    described = page.locator(f"#{name.get_attribute('aria-describedby')}")
    assert described.inner_text() == "請輸入姓名（最多 200 個字元）。"
    consent_error = page.locator(f"#answer-{event['consent']}-error").inner_text()
    assert consent_error == "您須表示同意方可登記。"

    tab_to("#name")
    page.keyboard.type("Keyboard Kit")
    tab_to("#email")
    page.keyboard.type("kit@example.com")
    tab_to(f"input[name='answer-{event['track']}']")
    page.keyboard.press("Space")
    tab_to(f"#answer-{event['consent']}")
    page.keyboard.press("Space")
    tab_to("button[type=submit]")
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="多謝登記")).to_be_visible()
    assert page.locator("#status").inner_text() == "已確認"


def test_an_attendee_changes_answers_and_cancels_from_the_manage_page(embedded, page):
    event = showcase(embedded, quota=1)
    ticket_type = embedded.get(f"{API}/events/{event['id']}").json()["ticket_types"][0]["id"]
    answers = {event["track"]: "AI", event["consent"]: True}
    body = {"ticket_type_id": ticket_type, "answers": answers}
    mine = embedded.post(
        f"{API}/events/{event['id']}/registrations",
        json={**body, "attendee": {"name": "Ada", "email": "ada@example.com"}},
    ).json()
    waiting = embedded.post(
        f"{API}/events/{event['id']}/registrations",
        json={**body, "attendee": {"name": "Grace", "email": "grace@example.com"}},
    ).json()

    page.goto(f"{embedded.base_url}/registrations/{mine['id']}?token={mine['manage_token']}")
    page.get_by_label("Art").check()
    page.get_by_role("button", name="Save answers").click()
    assert page.get_by_role("status").inner_text() == "Your answers are saved."
    page.get_by_role("button", name="Cancel my registration").click()
    # Asked once, saying what follows, before anything changes.
    expect(page.get_by_text("waiting list", exact=False).first).to_be_visible()
    page.get_by_role("button", name="Yes, cancel my registration").click()
    assert page.locator("#status").inner_text() == "Cancelled"

    promoted = embedded.get(
        f"{API}/registrations/{waiting['id']}", params={"token": waiting["manage_token"]}
    ).json()
    assert promoted["status"] == "confirmed"
    page.goto(f"{embedded.base_url}/registrations/{mine['id']}?token=wrong")
    assert page.get_by_role("alert").inner_text() == "This link opens nothing."


def test_an_organiser_logs_in_finds_an_attendee_and_erases_their_data(embedded, page):
    event = showcase(embedded)
    embedded.post(
        f"{API}/events/{event['id']}/registrations",
        json={
            "ticket_type_id": embedded.get(f"{API}/events/{event['id']}").json()["ticket_types"][0][
                "id"
            ],
            "attendee": {"name": "李小龍", "email": "bruce@example.hk"},
            "answers": {event["track"]: "Art", event["consent"]: True},
        },
    )

    page.goto(f"{embedded.base_url}/organiser/")
    page.get_by_text("Sign in with the bootstrap token").click()
    page.get_by_label("Organiser token").fill("not-the-token")
    page.get_by_role("button", name="Sign in with the token").click()
    assert page.get_by_role("alert").inner_text() == "That is not an organiser token."
    page.get_by_text("Sign in with the bootstrap token").click()
    page.get_by_label("Organiser token").fill(ORGANISER_TOKEN)
    page.get_by_role("button", name="Sign in with the token").click()

    [cookie] = [c for c in page.context.cookies() if c["name"] == "loopgate_organiser"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["secure"]
    page.get_by_role("link", name="Harbour Lights").click()
    page.get_by_label("Name or email").fill("bruce")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("row", name=re.compile("李小龍"))).to_be_visible()
    # Erasing asks once, on a page saying what will happen; the list keeps its search after.
    page.get_by_role("link", name="Erase personal data").click()
    expect(page.get_by_role("heading", name="Erase the personal data of 李小龍?")).to_be_visible()
    page.get_by_role("button", name="Erase personal data").click()
    assert page.get_by_role("status").inner_text() == "Personal data erased."
    # The search is kept, and finds them no more.
    assert page.get_by_label("Name or email").input_value() == "bruce"
    expect(page.get_by_role("row", name=re.compile("李小龍"))).to_have_count(0)
    page.get_by_label("Name or email").fill("")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("row", name=re.compile(r"\[erased\]"))).to_be_visible()
