"""The registration API beyond the core flow, over real HTTP on an embedded Loopgate: each route
answers its caller, refuses those it must (401 without a token, 403 for door staff, 404 for
another organisation or a wrong manage token), and validates its input."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from shared.auth import DEFAULT_ORGANISATION, ORGANISER, STAFF, Principal, ensure_token
from tests.support import embedded_loopgate, wait_until

API = "/api/registration"
STAFF_TOKEN = "api-test-staff-token"
OTHER_ORG_TOKEN = "api-test-other-organisation-token"


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    with embedded_loopgate(tmp_path_factory.mktemp("loopgate")) as flow:
        runtime = flow.system.runtimes["registration"]
        with runtime.session_factory() as session:
            for token, principal in (
                (STAFF_TOKEN, Principal(STAFF, DEFAULT_ORGANISATION)),
                (OTHER_ORG_TOKEN, Principal(ORGANISER, "other-org")),
            ):
                ensure_token(session, runtime.tables.tokens, token, principal)
        yield flow


STAFF_HEADERS = {"Authorization": f"Bearer {STAFF_TOKEN}"}
OTHER_ORG = {"Authorization": f"Bearer {OTHER_ORG_TOKEN}"}


def created(response, status=201) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def patch(api, path, body, headers=None, **kwargs):
    return api.http.patch(
        api.url(path), json=body, headers=headers or api.organiser, timeout=30, **kwargs
    )


def test_an_event_carries_languages_categories_sessions_and_questions(api):
    event_id = api.create_event(
        title="Harbour Lights",
        translations={"zh_Hant_HK": {"title": "港灣光影"}, "zh_Hans_CN": {"title": "港湾光影"}},
        categories=["exhibition", "workshop"],
        venue="Hall A",
    )
    api.add_ticket_type(event_id, quota=100)
    starts = api.get(f"{API}/organisation/events/{event_id}", headers=api.organiser).json()[
        "starts_at"
    ]
    session = created(
        api.post(
            f"{API}/events/{event_id}/sessions",
            json={
                "title": "Soldering workshop",
                "translations": {"zh_Hant_HK": {"title": "焊接工作坊"}},
                "starts_at": starts,
                "ends_at": (datetime.fromisoformat(starts) + timedelta(hours=1)).isoformat(),
                "capacity": 30,
            },
            headers=api.organiser,
        )
    )
    question = created(
        api.post(
            f"{API}/events/{event_id}/questions",
            json={"kind": "choice", "label": "Track", "options": ["AI", "Art"], "required": True},
            headers=api.organiser,
        )
    )
    api.publish(event_id)

    event = api.get(f"{API}/events/{event_id}").json()

    assert event["timezone"] == "Asia/Hong_Kong"
    assert event["translations"]["zh_Hans_CN"]["title"] == "港湾光影"
    assert event["categories"] == ["exhibition", "workshop"]
    assert event["sessions"][0] | {"remaining": 30} == event["sessions"][0]
    assert event["sessions"][0]["id"] == session["id"]
    assert event["questions"][0]["id"] == question["id"]
    listed = api.get(f"{API}/events", params={"category": "workshop"}).json()
    assert event_id in [e["id"] for e in listed]
    assert event_id not in [e["id"] for e in api.get(f"{API}/events?category=talk").json()]


def test_editing_unpublishing_and_cancelling_an_event(api):
    event_id, ticket_type_id = api.published_event(quota=5)
    registration = api.registered(event_id, ticket_type_id)

    edited = created(patch(api, f"{API}/events/{event_id}", {"venue": "Pier 4"}), 200)
    assert edited["venue"] == "Pier 4"
    assert (
        created(api.post(f"{API}/events/{event_id}/unpublish", headers=api.organiser), 200)[
            "status"
        ]
        == "unpublished"
    )
    assert api.get(f"{API}/events/{event_id}").status_code == 404
    assert api.register(event_id, ticket_type_id).status_code == 404
    assert created(api.post(f"{API}/events/{event_id}/publish", headers=api.organiser), 200)
    cancelled = created(api.post(f"{API}/events/{event_id}/cancel", headers=api.organiser), 200)
    assert cancelled["status"] == "cancelled"

    mine = api.get(
        f"{API}/registrations/{registration['id']}", params={"token": registration["manage_token"]}
    )
    assert mine.json()["status"] == "cancelled"
    assert patch(api, f"{API}/events/{event_id}", {"venue": "Back"}).status_code == 409
    ticket = api.wait_for_ticket(registration)
    wait_until(lambda: api.ticket(registration).json()["status"] == "revoked", 15, "revocation")
    assert ticket["id"]


def test_a_ticket_type_needing_approval_and_the_organisers_decision(api):
    event_id = api.create_event()
    ticket_type = created(
        api.post(
            f"{API}/events/{event_id}/ticket-types",
            json={"name": "Press", "quota": 1, "requires_approval": True, "per_order_limit": 1},
            headers=api.organiser,
        )
    )
    api.publish(event_id)

    first = api.registered(event_id, ticket_type["id"], email="press@example.com")
    assert first["status"] == "pending_approval"
    again = api.register(event_id, ticket_type["id"], email="PRESS@example.com")
    assert again.status_code == 409
    assert again.json()["errors"]["json"]["attendee"]["email"]
    second = api.registered(event_id, ticket_type["id"])

    approve = f"{API}/registrations/{first['id']}/approve"
    assert api.post(approve).status_code == 401
    assert api.post(approve, headers=STAFF_HEADERS).status_code == 403
    assert api.post(approve, headers=OTHER_ORG).status_code == 404
    assert created(api.post(approve, headers=api.organiser), 200)["status"] == "confirmed"
    assert api.post(approve, headers=api.organiser).status_code == 409
    rejected = api.post(f"{API}/registrations/{second['id']}/reject", headers=api.organiser)
    assert created(rejected, 200)["status"] == "rejected"


def test_a_sales_window_and_quota_can_be_changed(api):
    event_id, ticket_type_id = api.published_event(quota=1)
    api.registered(event_id, ticket_type_id)
    waiting = api.registered(event_id, ticket_type_id)
    path = f"{API}/ticket-types/{ticket_type_id}"

    assert patch(api, path, {"quota": 2}, headers=STAFF_HEADERS).status_code == 403
    assert patch(api, path, {"quota": 2}, headers=OTHER_ORG).status_code == 404
    assert patch(api, path, {"quota": -1}).status_code == 422
    assert created(patch(api, path, {"quota": 2}), 200)["remaining"] == 0
    assert (
        api.get(
            f"{API}/registrations/{waiting['id']}", params={"token": waiting["manage_token"]}
        ).json()["status"]
        == "confirmed"
    )

    later = (datetime.now(UTC) + timedelta(minutes=30)).isoformat()
    created(patch(api, path, {"sales_opens_at": later}), 200)
    not_yet = api.register(event_id, ticket_type_id)
    assert not_yet.status_code == 409
    assert not_yet.headers["Content-Type"] == "application/problem+json"


def test_answers_are_validated_kept_and_changed_with_the_manage_link(api):
    event_id = api.create_event()
    ticket_type_id = api.add_ticket_type(event_id, quota=5)
    ask = f"{API}/events/{event_id}/questions"
    company = created(
        api.post(ask, json={"kind": "text", "label": "Company"}, headers=api.organiser)
    )
    consent = created(
        api.post(
            ask,
            json={"kind": "consent", "label": "I agree.", "required": True},
            headers=api.organiser,
        )
    )
    api.publish(event_id)
    body = {"ticket_type_id": ticket_type_id, "attendee": {"name": "Ada", "email": "a@b.hk"}}

    refused = api.post(f"{API}/events/{event_id}/registrations", json=body)
    assert refused.status_code == 422
    assert consent["id"] in refused.json()["errors"]["json"]["answers"]
    registration = created(
        api.post(
            f"{API}/events/{event_id}/registrations",
            json={**body, "answers": {consent["id"]: True, company["id"]: "Loop"}},
        )
    )
    assert registration["answers"] == {consent["id"]: True, company["id"]: "Loop"}

    mine = f"{API}/registrations/{registration['id']}"
    changed = patch(api, mine, {"answers": {company["id"]: "Harbour"}}, params={"token": "wrong"})
    assert changed.status_code == 404
    changed = patch(
        api,
        mine,
        {"answers": {company["id"]: "Harbour"}},
        params={"token": registration["manage_token"]},
    )
    assert created(changed, 200)["answers"][company["id"]] == "Harbour"
    withdrawn = patch(
        api,
        mine,
        {"answers": {consent["id"]: False}},
        params={"token": registration["manage_token"]},
    )
    assert withdrawn.status_code == 422

    question = f"{API}/questions/{company['id']}"
    assert created(patch(api, question, {"label": "Organisation"}), 200)["label"] == "Organisation"
    assert api.http.delete(api.url(question), headers=OTHER_ORG, timeout=30).status_code == 404
    assert api.http.delete(api.url(question), headers=api.organiser, timeout=30).status_code == 204


def test_the_organiser_filters_searches_and_exports_with_answers_and_check_ins(api):
    event_id = api.create_event()
    ticket_type_id = api.add_ticket_type(event_id, quota=1)
    company = created(
        api.post(
            f"{API}/events/{event_id}/questions",
            json={"kind": "text", "label": "Company"},
            headers=api.organiser,
        )
    )
    api.publish(event_id)
    body = {"ticket_type_id": ticket_type_id, "answers": {company["id"]: "=cmd()"}}
    for name, email in [("陳大文", "tai.man@example.hk"), ("李小龍", "bruce@example.hk")]:
        created(
            api.post(
                f"{API}/events/{event_id}/registrations",
                json={**body, "attendee": {"name": name, "email": email}},
            )
        )
    listing = f"{API}/events/{event_id}/registrations"

    assert [
        r["attendee"]["name"]
        for r in api.get(listing, params={"q": "BRUCE"}, headers=api.organiser).json()
    ] == ["李小龍"]
    waitlisted = api.get(listing, params={"status": "waitlisted"}, headers=api.organiser).json()
    assert [r["attendee"]["name"] for r in waitlisted] == ["李小龍"]
    assert api.get(listing, params={"status": "lost"}, headers=api.organiser).status_code == 422

    exported = api.get(listing, headers={**api.organiser, "Accept": "text/csv"})
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0][-3:] == ["checked_in", "checked_in_at", "Company"]
    assert rows[1][2] == "陳大文" and rows[1][-3] == "no" and rows[1][-1] == "'=cmd()"


def test_a_waitlist_offer_is_claimed_with_the_manage_link(api):
    event_id, ticket_type_id = api.published_event(quota=1, waitlist_claim_minutes=60)
    first = api.registered(event_id, ticket_type_id)
    waiting = api.registered(event_id, ticket_type_id)
    claim = f"{API}/registrations/{waiting['id']}/claim"

    assert api.post(claim, params={"token": waiting["manage_token"]}).status_code == 409
    api.cancel(first)
    offered = api.get(
        f"{API}/registrations/{waiting['id']}", params={"token": waiting["manage_token"]}
    ).json()
    assert offered["status"] == "offered" and offered["offer_expires_at"]
    assert api.post(claim, params={"token": first["manage_token"]}).status_code == 404
    claimed = created(api.post(claim, params={"token": waiting["manage_token"]}), 200)
    assert claimed["status"] == "confirmed"
    assert api.wait_for_ticket(waiting)["status"] == "valid"


def test_erasing_an_attendee_leaves_the_count(api):
    event_id, ticket_type_id = api.published_event(quota=5)
    registration = api.registered(event_id, ticket_type_id, name="Ada Lovelace")
    erase = f"{API}/registrations/{registration['id']}/erase"

    assert api.post(erase).status_code == 401
    assert api.post(erase, headers=STAFF_HEADERS).status_code == 403
    assert api.post(erase, headers=OTHER_ORG).status_code == 404
    erased = created(api.post(erase, headers=api.organiser), 200)

    assert erased["attendee"] == {"name": "[erased]", "email": ""}
    assert erased["status"] == "confirmed"
    event = api.get(f"{API}/events/{event_id}").json()
    assert event["ticket_types"][0]["remaining"] == 4


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/organisation/events"),
        ("GET", "/organisation/events/{event}"),
        ("PATCH", "/events/{event}"),
        ("POST", "/events/{event}/unpublish"),
        ("POST", "/events/{event}/cancel"),
        ("POST", "/events/{event}/sessions"),
        ("POST", "/events/{event}/questions"),
        ("PATCH", "/ticket-types/{event}"),
        ("PATCH", "/sessions/{event}"),
        ("PATCH", "/questions/{event}"),
        ("DELETE", "/questions/{event}"),
        ("POST", "/registrations/{event}/approve"),
        ("POST", "/registrations/{event}/reject"),
        ("POST", "/registrations/{event}/erase"),
    ],
)
@pytest.mark.parametrize(
    "headers, status",
    [({}, 401), ({"Authorization": "Bearer nope"}, 401), (STAFF_HEADERS, 403)],
    ids=["no-token", "unknown-token", "staff"],
)
def test_organiser_routes_refuse_everyone_else(api, method, path, headers, status):
    event_id = "6b0f3c1e-8d4a-4c55-9a57-0e1d2f3a4b5c"
    response = api.http.request(
        method, api.url(API + path.format(event=event_id)), json={}, headers=headers, timeout=30
    )
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/problem+json"


def test_another_organisation_sees_none_of_our_events(api):
    event_id, _ = api.published_event()
    assert api.get(f"{API}/organisation/events/{event_id}", headers=OTHER_ORG).status_code == 404
    assert event_id not in [
        e["id"] for e in api.get(f"{API}/organisation/events", headers=OTHER_ORG).json()
    ]
    assert event_id in [
        e["id"] for e in api.get(f"{API}/organisation/events", headers=api.organiser).json()
    ]
