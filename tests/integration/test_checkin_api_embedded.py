"""Check-in over HTTP in embedded mode: lists, door devices and their tokens, what a scan
answers, search and manual check-in, the offline bundle and batch upload, the dashboard's
figures, live stream and CSV, and the pages (docs/architecture.md, "Check-in")."""

import gzip
import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from shared.i18n import LOCALES
from shared.tokens import base45_decode
from tests.support import CoreFlow, wait_until

PROBLEM_JSON = "application/problem+json"


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def ticket_in_roster(flow: CoreFlow, event_id, ticket_type_id, name="Ada Lovelace", **kwargs):
    ticket = flow.wait_for_ticket(flow.registered(event_id, ticket_type_id, name=name, **kwargs))
    flow.wait_until_in_roster(ticket["id"])
    return ticket


def lists_of(flow: CoreFlow, event_id, headers=None) -> list[dict]:
    """The event's lists, once event.published has reached check-in."""

    def answered():
        response = flow.get(
            f"/api/checkin/events/{event_id}/lists", headers=headers or flow.organiser
        )
        return response.json() if response.status_code == 200 else None

    return wait_until(answered, 15, f"the check-in lists of {event_id}")


def new_list(flow: CoreFlow, event_id, **fields) -> dict:
    response = flow.post(
        f"/api/checkin/events/{event_id}/lists", json=fields, headers=flow.organiser
    )
    assert response.status_code == 201, response.text
    return response.json()


def paired_device(flow: CoreFlow, list_id: str, name: str = "East gate phone") -> dict:
    code = flow.post(f"/api/checkin/lists/{list_id}/pairing-codes", headers=flow.organiser)
    assert code.status_code == 201, code.text
    paired = flow.post(
        "/api/checkin/pairing-codes/redeem",
        json={"code": code.json()["code"].lower().replace("-", " "), "device_name": name},
    )
    assert paired.status_code == 201, paired.text
    return paired.json()


def scan_as(flow: CoreFlow, token: str, payload: str, **fields):
    return flow.post(
        "/api/checkin/scans",
        json={"payload": payload, "scan_id": uuid.uuid4().hex, **fields},
        headers=bearer(token),
    )


def test_an_organiser_defines_gates_with_ticket_types_windows_and_reentry(embedded):
    event_id, general = embedded.published_event()
    vip = embedded.add_ticket_type(event_id, quota=5, name="VIP")
    embedded.publish(event_id)  # the door learns the new ticket type from event.updated
    embedded_wait_for_types(embedded, event_id, 2)
    opens = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)

    lounge = new_list(
        embedded,
        event_id,
        name="VIP lounge",
        ticket_type_ids=[vip],
        reentry="unlimited",
        session_id="keynote",
        opens_at=opens.isoformat(),
        closes_at=(opens + timedelta(hours=1)).isoformat(),
    )
    changed = embedded.http.patch(
        embedded.url(f"/api/checkin/lists/{lounge['id']}"),
        json={"reentry": "daily"},
        headers=embedded.organiser,
    )

    assert lounge["ticket_type_ids"] == [vip] and lounge["session_id"] == "keynote"
    assert changed.status_code == 200 and changed.json()["reentry"] == "daily"
    assert changed.json()["name"] == "VIP lounge"
    names = [item["name"] for item in lists_of(embedded, event_id)]
    assert names == ["Main entrance", "VIP lounge"]
    refused = embedded.post(
        f"/api/checkin/events/{event_id}/lists",
        json={"name": "Side door", "reentry": "sometimes"},
        headers=embedded.organiser,
    )
    assert refused.status_code == 422 and "reentry" in refused.json()["errors"]["json"]
    foreign = embedded.post(
        f"/api/checkin/events/{event_id}/lists",
        json={"name": "Side door", "ticket_type_ids": [general, str(uuid.uuid4())]},
        headers=embedded.organiser,
    )
    assert foreign.status_code == 422
    deleted = embedded.http.delete(
        embedded.url(f"/api/checkin/lists/{lounge['id']}"), headers=embedded.organiser
    )
    assert deleted.status_code == 204
    assert [item["name"] for item in lists_of(embedded, event_id)] == ["Main entrance"]


def embedded_wait_for_types(flow: CoreFlow, event_id, count: int) -> None:
    def known_types():
        stats = flow.get(f"/api/checkin/events/{event_id}/stats", headers=flow.organiser)
        return stats.status_code == 200 and len(stats.json()["ticket_types"]) == count

    wait_until(known_types, 15, f"{count} ticket types at the door")


def test_a_paired_device_scans_its_event_and_nothing_else_until_revoked(embedded):
    event_id, ticket_type_id = embedded.published_event()
    other_event, other_type = embedded.published_event(title="Other Night")
    ticket = ticket_in_roster(embedded, event_id, ticket_type_id, name="陳大文")
    other_ticket = ticket_in_roster(embedded, other_event, other_type)
    main = lists_of(embedded, event_id)[0]
    other_main = lists_of(embedded, other_event)[0]

    device = paired_device(embedded, main["id"])
    token = device["token"]

    assert device["event_id"] == event_id and device["list_id"] == main["id"]
    assert device["list_name"] == "Main entrance"
    first = scan_as(embedded, token, ticket["payload"], list_id=main["id"]).json()
    assert first["verdict"] == "ok"
    assert first["ticket"]["attendee_name"] == "陳大文"
    assert first["ticket"]["ticket_type_name"] == "General"
    again = scan_as(embedded, token, ticket["payload"]).json()
    assert again["verdict"] == "already_checked_in"
    assert again["previous"]["gate"] == "Main entrance"
    assert again["previous"]["scanned_at"]

    # The staff token is for its own event: another event's list, bundle and lists are denied.
    on_other_list = scan_as(embedded, token, other_ticket["payload"], list_id=other_main["id"])
    assert on_other_list.status_code == 404
    assert on_other_list.headers["Content-Type"] == PROBLEM_JSON
    other_ticket_here = scan_as(embedded, token, other_ticket["payload"]).json()
    assert other_ticket_here["verdict"] == "wrong_event" and "ticket" not in other_ticket_here
    assert (
        embedded.get(f"/api/checkin/events/{other_event}/bundle", headers=bearer(token)).status_code
        == 404
    )
    assert (
        embedded.get(f"/api/checkin/events/{other_event}/lists", headers=bearer(token)).status_code
        == 404
    )
    # ... and organiser routes are not for door devices.
    assert (
        embedded.post(
            f"/api/checkin/lists/{main['id']}/pairing-codes", headers=bearer(token)
        ).status_code
        == 403
    )

    devices = embedded.get(f"/api/checkin/events/{event_id}/devices", headers=embedded.organiser)
    assert [(d["name"], d["revoked_at"]) for d in devices.json()] == [("East gate phone", None)]
    revoked = embedded.post(
        f"/api/checkin/devices/{device['device_id']}/revoke", headers=embedded.organiser
    )
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert scan_as(embedded, token, ticket["payload"]).status_code == 401


def test_a_pairing_code_works_once_and_not_for_another_organisation(embedded):
    event_id, _ = embedded.published_event()
    main = lists_of(embedded, event_id)[0]
    code = embedded.post(
        f"/api/checkin/lists/{main['id']}/pairing-codes", headers=embedded.organiser
    )
    assert code.status_code == 201
    assert len(code.json()["code"]) == 9  # XXXX-XXXX, read off a screen

    first = embedded.post("/api/checkin/pairing-codes/redeem", json={"code": code.json()["code"]})
    second = embedded.post("/api/checkin/pairing-codes/redeem", json={"code": code.json()["code"]})
    guessed = embedded.post("/api/checkin/pairing-codes/redeem", json={"code": "AAAA-AAAA"})

    assert first.status_code == 201
    assert second.status_code == 404 and second.headers["Content-Type"] == PROBLEM_JSON
    assert guessed.status_code == 404
    unknown_field = embedded.post(
        "/api/checkin/pairing-codes/redeem", json={"code": "AAAA-AAAA", "event_id": event_id}
    )
    assert unknown_field.status_code == 422


def test_door_staff_find_a_ticket_by_name_or_code_and_check_it_in_by_hand(embedded):
    event_id, ticket_type_id = embedded.published_event()
    ticket = ticket_in_roster(embedded, event_id, ticket_type_id, name="Grace Hopper")
    ticket_in_roster(embedded, event_id, ticket_type_id, name="Alan Turing")
    token = paired_device(embedded, lists_of(embedded, event_id)[0]["id"])["token"]

    def search(text):
        response = embedded.get(
            f"/api/checkin/events/{event_id}/tickets", params={"q": text}, headers=bearer(token)
        )
        assert response.status_code == 200, response.text
        return [found["attendee_name"] for found in response.json()]

    assert search("hopper") == ["Grace Hopper"]
    assert search(ticket["id"][:6]) == ["Grace Hopper"]
    assert (
        embedded.get(f"/api/checkin/events/{event_id}/tickets", headers=bearer(token)).status_code
        == 422
    )

    manual = embedded.post(
        "/api/checkin/scans/manual",
        json={"ticket_id": ticket["id"], "scan_id": "hand-1"},
        headers=bearer(token),
    )
    assert manual.status_code == 200 and manual.json()["verdict"] == "ok"
    assert embedded.scan(ticket["payload"])["verdict"] == "already_checked_in"


def test_the_offline_bundle_and_a_batch_upload(embedded):
    event_id, ticket_type_id = embedded.published_event(quota=3)
    kept = ticket_in_roster(embedded, event_id, ticket_type_id, name="Grace Hopper")
    registration = embedded.registered(event_id, ticket_type_id, name="Cancelled Carl")
    cancelled = embedded.wait_for_ticket(registration)
    embedded.wait_until_in_roster(cancelled["id"])
    embedded.cancel(registration)
    wait_until(
        lambda: embedded.roster_ticket(cancelled["id"]).json()["status"] == "revoked", 10, "revoke"
    )
    token = paired_device(embedded, lists_of(embedded, event_id)[0]["id"])["token"]

    bundle = embedded.get(f"/api/checkin/events/{event_id}/bundle", headers=bearer(token))

    assert bundle.status_code == 200
    body = bundle.json()
    assert set(body) == {"keys", "tickets", "revoked", "lists", "texts"}
    assert [t["attendee_name"] for t in body["tickets"]] == ["Grace Hopper"]
    assert body["revoked"] == [cancelled["id"]]
    assert [key["key_id"] for key in body["keys"]] == [base45_decode(kept["payload"][4:])[:4].hex()]
    assert body["lists"][0]["reentry"] == "once" and body["lists"][0]["timezone"]

    now = datetime.now(UTC)
    scans = [
        {
            "payload": kept["payload"],
            "scan_id": "p1-2",
            "scanned_at": (now + timedelta(hours=2)).isoformat(),
        },
        {
            "payload": kept["payload"],
            "scan_id": "p1-1",
            "scanned_at": (now + timedelta(hours=1, minutes=30)).isoformat(),
        },
        {
            "payload": cancelled["payload"],
            "scan_id": "p1-3",
            "scanned_at": (now + timedelta(hours=2)).isoformat(),
        },
    ]
    upload = embedded.post("/api/checkin/scans/batch", json={"scans": scans}, headers=bearer(token))

    assert upload.status_code == 200, upload.text
    results = upload.json()["results"]
    assert [(r["scan_id"], r["verdict"]) for r in results] == [
        ("p1-2", "already_checked_in"),
        ("p1-1", "ok"),
        ("p1-3", "revoked"),
    ]
    assert results[0]["previous"]["scan_id"] == "p1-1"
    again = embedded.post("/api/checkin/scans/batch", json={"scans": scans}, headers=bearer(token))
    assert again.json() == upload.json()
    missing_time = embedded.post(
        "/api/checkin/scans/batch",
        json={"scans": [{"payload": kept["payload"], "scan_id": "p1-9"}]},
        headers=bearer(token),
    )
    assert missing_time.status_code == 422


def test_a_large_batch_travels_gzipped(embedded):
    event_id, ticket_type_id = embedded.published_event()
    ticket = ticket_in_roster(embedded, event_id, ticket_type_id)
    at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    scans = [
        {"payload": ticket["payload"], "scan_id": f"bulk-{n:05d}", "scanned_at": at}
        for n in range(4000)
    ]
    body = json.dumps({"scans": scans}).encode()
    assert len(body) > 1024 * 1024

    plain = embedded.post(
        "/api/checkin/scans/batch",
        data=body,
        headers={**embedded.organiser, "Content-Type": "application/json"},
    )
    zipped = embedded.post(
        "/api/checkin/scans/batch",
        data=gzip.compress(body),
        headers={
            **embedded.organiser,
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        },
    )
    not_gzip = embedded.post(
        "/api/checkin/scans/batch",
        data=b"not gzip at all",
        headers={
            **embedded.organiser,
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        },
    )

    assert plain.status_code == 413
    assert zipped.status_code == 200, zipped.text[:300]
    verdicts = [result["verdict"] for result in zipped.json()["results"]]
    assert verdicts[0] == "ok" and set(verdicts[1:]) == {"already_checked_in"}
    assert not_gzip.status_code == 400 and not_gzip.headers["Content-Type"] == PROBLEM_JSON


def test_the_dashboard_figures_live_stream_and_csv(embedded):
    event_id, ticket_type_id = embedded.published_event()
    ticket = ticket_in_roster(embedded, event_id, ticket_type_id, name="=cmd|' /C calc'!A0")
    ticket_in_roster(embedded, event_id, ticket_type_id, name="李小龍")
    embedded.scan(ticket["payload"], scan_id="s-1")
    embedded.scan(ticket["payload"], scan_id="s-2", direction="out")

    stats = embedded.get(f"/api/checkin/events/{event_id}/stats", headers=embedded.organiser).json()
    assert (stats["tickets"], stats["checked_in"], stats["inside"]) == (2, 1, 0)
    assert stats["lists"][0]["checked_in"] == 1
    assert stats["ticket_types"][0]["name"] == "General"
    assert [bucket["count"] for bucket in stats["arrivals"]] == [1]

    with embedded.http.get(
        embedded.url(f"/api/checkin/events/{event_id}/stats/live"),
        params={"max_seconds": 2},
        headers=embedded.organiser,
        stream=True,
        timeout=30,
    ) as live:
        assert live.headers["Content-Type"].startswith("text/event-stream")
        text = b"".join(live.iter_content(chunk_size=None)).decode()
    blocks = [block for block in text.split("\n\n") if block.startswith("event: stats")]
    assert blocks, text
    assert json.loads(blocks[0].split("data: ", 1)[1])["checked_in"] == 1

    csv = embedded.get(f"/api/checkin/events/{event_id}/scans.csv", headers=embedded.organiser)
    assert csv.headers["Content-Type"].startswith("text/csv")
    lines = csv.content.decode("utf-8").splitlines()
    assert lines[0].startswith("\ufeffscanned_at,scan_id")
    assert len(lines) == 3
    assert ",'=cmd|" in lines[1] and ",out,ok," in lines[2]


@pytest.mark.parametrize(
    "lang, expected", [("en", "Pair this device"), ("zh-HK", "配對此裝置"), ("zh-CN", "配对此设备")]
)
def test_the_scanner_page_speaks_three_languages_from_its_own_assets(embedded, lang, expected):
    page = embedded.get("/api/checkin/scanner", params={"lang": lang})
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert expected in page.text
    assert "http://" not in page.text and "https://" not in page.text
    for asset in ("scanner.js", "door-rules.js", "ticket-codes.js", "checkin.css"):
        response = embedded.get(f"/api/checkin/static/{asset}")
        assert response.status_code == 200, asset
    dashboard = embedded.get("/api/checkin/dashboard", params={"lang": lang})
    assert dashboard.status_code == 200


def test_the_dashboards_language_links_keep_its_event(embedded):
    event_id, _ = embedded.published_event()
    page = embedded.get("/api/checkin/dashboard", params={"event": event_id, "lang": "en"}).text
    links = re.findall(r'<a href="([^"]+)" lang="[^"]+" hreflang', page)
    assert sorted(links) == sorted(
        f"/api/checkin/dashboard?event={event_id}&amp;lang={locale}" for locale in LOCALES
    )
