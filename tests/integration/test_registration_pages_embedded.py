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
