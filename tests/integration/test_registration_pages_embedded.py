"""The registration pages over plain HTTP: who may open which page, the organiser's session
cookie and CSRF protection, double submits, languages, and errors for browsers."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from shared.auth import ORGANISER, Principal, ensure_token
from tests.support import ORGANISER_TOKEN, sign_in

OTHER_ORG_TOKEN = "pages-test-other-organisation"
HTML = {"Accept": "text/html"}


@pytest.fixture
def site(embedded):
    runtime = embedded.system.runtimes["registration"]
    with runtime.session_factory() as session:
        ensure_token(
            session, runtime.tables.tokens, OTHER_ORG_TOKEN, Principal(ORGANISER, "other-org")
        )
    return embedded


def logged_in(site, token=ORGANISER_TOKEN) -> requests.Session:
    """A client holding the organiser session cookie."""
    browser = requests.Session()
    response = sign_in(browser, site.base_url, token)
    assert response.status_code == 303, response.text
    return browser


def csrf_of(browser, url) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', browser.get(url, timeout=30).text)[1]


def test_organiser_pages_need_a_login(site):
    event_id, _ = site.published_event()
    for path in ("/organiser/", f"/organiser/events/{event_id}"):
        response = site.get(path, allow_redirects=False)
        assert response.status_code == 303
        assert response.headers["Location"].startswith("/organiser/login")
    refused = sign_in(requests.Session(), site.base_url, "guess")
    assert refused.status_code == 401


def test_the_session_cookie_is_http_only_strict_and_secure(site):
    response = sign_in(requests.Session(), site.base_url, ORGANISER_TOKEN)
    cookie = response.headers["Set-Cookie"]
    for flag in ("HttpOnly", "SameSite=Strict", "Secure", "Path=/organiser"):
        assert flag in cookie, cookie
    assert ORGANISER_TOKEN not in response.text


def test_organiser_forms_refuse_a_missing_or_wrong_csrf_token(site):
    event_id, _ = site.published_event()
    browser = logged_in(site)
    page = site.url(f"/organiser/events/{event_id}")
    action = site.url(f"/organiser/events/{event_id}/unpublish")

    for data in (
        {},
        {"csrf": "0" * 64},
        {"csrf": csrf_of(logged_in(site, OTHER_ORG_TOKEN), site.url("/organiser/"))},
    ):
        assert browser.post(action, data=data, timeout=30).status_code == 400
    assert site.get(f"/api/registration/events/{event_id}").status_code == 200

    done = browser.post(action, data={"csrf": csrf_of(browser, page)}, timeout=30)
    assert done.status_code == 200 and "Unpublished." in done.text
    assert site.get(f"/api/registration/events/{event_id}").status_code == 404


def test_another_organisation_cannot_open_or_act_on_the_event(site):
    event_id, ticket_type_id = site.published_event()
    registration = site.registered(event_id, ticket_type_id, name="Ada Lovelace")
    intruder = logged_in(site, OTHER_ORG_TOKEN)

    page = intruder.get(site.url(f"/organiser/events/{event_id}"), timeout=30)
    assert page.status_code == 404 and "Ada Lovelace" not in page.text
    csrf = csrf_of(intruder, site.url("/organiser/"))
    erase = site.url(f"/organiser/registrations/{registration['id']}/erase")
    assert intruder.post(erase, data={"csrf": csrf}, timeout=30).status_code == 404
    csv = logged_in(site).get(site.url(f"/organiser/events/{event_id}/registrations.csv"))
    assert "Ada Lovelace" in csv.content.decode("utf-8-sig")


def test_a_registration_form_sent_twice_registers_once(site):
    event_id, ticket_type_id = site.published_event()
    form = {"name": "陳大文", "email": "tai.man@example.hk", "ticket_type_id": ticket_type_id}
    form["key"] = "form-render-1"

    first = site.post(f"/events/{event_id}", data=form, allow_redirects=False)
    again = site.post(f"/events/{event_id}", data=form, allow_redirects=False)

    assert first.status_code == again.status_code == 303
    assert first.headers["Location"] == again.headers["Location"]
    token = parse_qs(urlsplit(first.headers["Location"]).query)["token"][0]
    manage = site.get(first.headers["Location"])
    assert "陳大文" in manage.text and token in manage.text
    listed = site.get(f"/api/registration/events/{event_id}/registrations", headers=site.organiser)
    assert len(listed.json()) == 1


def test_a_bad_form_is_answered_with_its_errors_in_the_readers_language(site):
    event_id, _ = site.published_event()

    response = site.post(
        f"/events/{event_id}",
        data={"name": "", "email": "nope"},
        headers={"Accept-Language": "zh-CN,zh;q=0.9"},
    )

    assert response.status_code == 422
    assert 'role="alert"' in response.text
    assert 'aria-describedby="email-hint email-error" aria-invalid="true"' in response.text
    assert "请输入邮箱地址，例如 name@example.com。" in response.text
    assert '<html lang="zh-Hans-CN">' in response.text


def test_the_chosen_language_is_remembered(site):
    first = site.get("/?lang=zh_Hant_HK")
    assert "展覽活動" in first.text
    assert "展覽活動" in site.get("/").text
    assert "Showcases" in site.get("/?lang=en").text


def test_a_browser_gets_a_page_for_an_unknown_address_and_a_client_problem_json(site):
    page = site.get("/no-such-page", headers=HTML)
    assert page.status_code == 404 and page.headers["Content-Type"].startswith("text/html")
    problem = site.get("/no-such-page")
    assert problem.headers["Content-Type"] == "application/problem+json"
    api = site.get("/api/registration/nope", headers=HTML)
    assert api.headers["Content-Type"] == "application/problem+json"


def test_a_manage_page_opens_only_with_its_token(site):
    event_id, ticket_type_id = site.published_event()
    mine = site.registered(event_id, ticket_type_id, name="Ada Lovelace")
    other = site.registered(event_id, ticket_type_id, name="Bartholomew Secret")

    for token in ("", "guess", other["manage_token"]):
        response = site.get(f"/registrations/{mine['id']}", params={"token": token})
        assert response.status_code == 404 and "Ada Lovelace" not in response.text
    cancel = site.post(f"/registrations/{mine['id']}/cancel", data={"token": "guess"})
    assert cancel.status_code == 404
    assert site.get(f"/registrations/{mine['id']}", params={"token": mine["manage_token"]}).ok


def test_an_organiser_creates_a_draft_event_from_the_form(site):
    browser = logged_in(site)
    home = site.url("/organiser/")
    form = {
        "csrf": csrf_of(browser, home),
        "title": "Night Market of Robots",
        "title-zh_Hant_HK": "機械人夜市",
        "starts_at": "2030-05-01T18:00",
        "ends_at": "2030-05-01T23:00",
        "timezone": "Asia/Hong_Kong",
        "venue": "Pier 4",
        "categories": ["exhibition", "performance"],
        "ticket_name": "General",
        "quota": "300",
    }

    bad = browser.post(site.url("/organiser/events"), data={**form, "quota": "lots"}, timeout=30)
    assert bad.status_code == 422 and 'id="quota-error"' in bad.text
    created = browser.post(site.url("/organiser/events"), data=form, timeout=30)

    assert created.status_code == 200 and "Night Market of Robots" in created.text
    [event] = [
        e
        for e in site.get("/api/registration/organisation/events", headers=site.organiser).json()
        if e["title"] == "Night Market of Robots"
    ]
    assert event["status"] == "draft"
    assert event["starts_at"] == "2030-05-01T10:00:00+00:00"
    assert event["translations"] == {"zh_Hant_HK": {"title": "機械人夜市"}}
    assert event["categories"] == ["exhibition", "performance"]
    assert [(t["name"], t["quota"]) for t in event["ticket_types"]] == [("General", 300)]


# --- what a new user saw (issue 16) ---------------------------------------------------------


def new_event_form(browser, site, **fields) -> dict:
    return {
        "csrf": csrf_of(browser, site.url("/organiser/")),
        "title": "Harbour Robots",
        "starts_at": "2030-05-01T18:00",
        "ends_at": "2030-05-01T23:00",
        "timezone": "Asia/Hong_Kong",
        "ticket_name": "General",
        "quota": "100",
        **fields,
    }


def field_error(page: str, field: str) -> str | None:
    found = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', page)
    return found and found[1]


def test_the_new_event_form_offers_time_zones_and_says_what_is_wrong_beside_each_field(site):
    browser = logged_in(site)
    home = browser.get(site.url("/organiser/"), timeout=30).text
    zones = re.search(r'<select id="timezone" name="timezone"[^>]*>(.*?)</select>', home, re.S)
    offered = re.findall(r"<option[^>]*>([^<]+)</option>", zones[1])
    assert offered[:3] == ["Asia/Hong_Kong", "Asia/Shanghai", "Africa/Abidjan"]
    assert "Europe/London" in offered and len(offered) == len(set(offered))
    assert "<option selected>Asia/Hong_Kong</option>" in zones[1]

    typed = browser.post(
        site.url("/organiser/events"),
        data=new_event_form(browser, site, timezone="Hong Kong", starts_at="tomorrow"),
        timeout=30,
    )
    assert typed.status_code == 422
    assert field_error(typed.text, "timezone") == "Choose a time zone from the list."
    assert field_error(typed.text, "starts_at") == "Enter the start as a date and time."
    assert field_error(typed.text, "ends_at") is None
    assert "Check this field." not in typed.text

    backwards = browser.post(
        site.url("/organiser/events"),
        data=new_event_form(browser, site, ends_at="2030-05-01T17:00"),
        timeout=30,
    )
    assert backwards.status_code == 422
    assert field_error(backwards.text, "ends_at") == "The end must be after the start."
    chinese = browser.post(
        site.url("/organiser/events?lang=zh_Hant_HK"),
        data=new_event_form(browser, site, timezone="Hong Kong"),
        timeout=30,
    )
    assert field_error(chinese.text, "timezone") == "請從清單中選擇時區。"


def test_the_event_page_links_its_doors_dashboard_keys_and_the_scanner(site):
    event_id, _ = site.published_event()
    page = logged_in(site).get(site.url(f"/organiser/events/{event_id}"), timeout=30).text
    assert f'href="/api/checkin/organiser/events/{event_id}/doors"' in page
    assert f'href="/api/checkin/organiser/events/{event_id}/dashboard"' in page
    assert f'href="/api/ticketing/organiser/events/{event_id}/keys"' in page
    assert 'href="/api/checkin/scanner"' in page


def test_erasing_personal_data_asks_first_on_a_page_of_its_own(site):
    event_id, ticket_type_id = site.published_event()
    ada = site.registered(event_id, ticket_type_id, name="Ada Lovelace")
    browser = logged_in(site)
    listed = browser.get(site.url(f"/organiser/events/{event_id}?q=ada"), timeout=30).text
    erase = f"/organiser/registrations/{ada['id']}/erase"
    assert f'action="{erase}"' not in listed, "no one-click erasure on the list"
    assert f'href="{erase}?q=ada"' in listed

    asked = browser.get(site.url(f"{erase}?q=ada"), timeout=30)
    assert asked.status_code == 200
    assert "Erase the personal data of Ada Lovelace?" in asked.text
    assert "This cannot be undone." in asked.text
    assert f'<form method="post" action="{erase}"' in asked.text
    assert '<input type="hidden" name="q" value="ada">' in asked.text
    still = site.get(
        f"/api/registration/registrations/{ada['id']}", params={"token": ada["manage_token"]}
    )
    assert still.json()["attendee"]["name"] == "Ada Lovelace", "asking erased nothing"
    intruder = logged_in(site, OTHER_ORG_TOKEN)
    assert intruder.get(site.url(erase), timeout=30).status_code == 404

    done = browser.post(
        site.url(erase), data={"csrf": csrf_of(browser, asked.url), "q": "ada"}, timeout=30
    )
    assert done.status_code == 200 and "Personal data erased." in done.text
    assert urlsplit(done.url).query == "done=erase&q=ada"


def test_cancelling_an_event_asks_first_and_says_how_many_registrations_it_cancels(site):
    event_id, ticket_type_id = site.published_event()
    for name in ("Ada", "Grace"):
        site.registered(event_id, ticket_type_id, name=name)
    browser = logged_in(site)
    page = browser.get(site.url(f"/organiser/events/{event_id}"), timeout=30).text
    assert f'action="/organiser/events/{event_id}/cancel"' not in page

    asked = browser.get(site.url(f"/organiser/events/{event_id}/cancel"), timeout=30)
    assert asked.status_code == 200 and "Cancel Demo Day?" in asked.text
    assert "Its 2 live registrations are cancelled" in asked.text
    assert site.get(f"/api/registration/events/{event_id}").status_code == 200
    done = browser.post(
        site.url(f"/organiser/events/{event_id}/cancel"),
        data={"csrf": csrf_of(browser, asked.url)},
        timeout=30,
    )
    assert "The event is cancelled." in done.text


def test_approving_keeps_the_registrations_filter_and_drops_what_is_not_a_choice(site):
    event_id = site.create_event()
    type_response = site.post(
        f"/api/registration/events/{event_id}/ticket-types",
        json={"name": "Press", "quota": 5, "requires_approval": True},
        headers=site.organiser,
    )
    press = type_response.json()["id"]
    site.publish(event_id)
    ada = site.registered(event_id, press, name="Ada Lovelace")
    assert ada["status"] == "pending_approval"
    browser = logged_in(site)
    query = f"status=pending_approval&ticket_type_id={press}&q=Ada"
    listed = browser.get(site.url(f"/organiser/events/{event_id}?{query}"), timeout=30).text
    assert '<input type="hidden" name="status" value="pending_approval">' in listed

    approved = browser.post(
        site.url(f"/organiser/registrations/{ada['id']}/approve"),
        data={
            "csrf": csrf_of(browser, site.url("/organiser/")),
            "status": "pending_approval",
            "ticket_type_id": press,
            "q": "Ada",
        },
        allow_redirects=False,
        timeout=30,
    )
    assert approved.status_code == 303
    kept = parse_qs(urlsplit(approved.headers["Location"]).query)
    assert kept == {
        "done": ["approve"],
        "status": ["pending_approval"],
        "ticket_type_id": [press],
        "q": ["Ada"],
    }

    rejected = browser.post(
        site.url(f"/organiser/registrations/{ada['id']}/reject"),
        data={
            "csrf": csrf_of(browser, site.url("/organiser/")),
            "status": "<script>",
            "ticket_type_id": "not-an-id",
            "q": "  Ada  ",
        },
        allow_redirects=False,
        timeout=30,
    )
    kept = parse_qs(urlsplit(rejected.headers["Location"]).query)
    assert kept == {"done": ["refused"], "q": ["Ada"]}


@pytest.mark.parametrize(
    "lang, shown",
    [
        ("en", "May 1, 2030, 6:00\u202fPM"),  # CLDR's narrow space before PM
        ("zh_Hant_HK", "2030年5月1日 下午6:00"),
        ("zh_Hans_CN", "2030年5月1日 18:00"),
    ],
)
def test_times_on_pages_show_no_seconds(site, lang, shown):
    event = site.post(
        "/api/registration/events",
        json={
            "title": "Clockwork",
            "starts_at": "2030-05-01T10:00:00+00:00",
            "ends_at": "2030-05-01T15:00:00+00:00",
            "timezone": "Asia/Hong_Kong",
        },
        headers=site.organiser,
    ).json()
    site.add_ticket_type(event["id"], quota=5)
    site.publish(event["id"])

    page = site.get(f"/events/{event['id']}", params={"lang": lang}).text
    assert shown in page
    assert not re.search(r"\d:\d\d:\d\d", page)
