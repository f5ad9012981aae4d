"""Ticketing's organiser API, ticket page and mailbox over real HTTP, in a whole embedded
Loopgate (issue #6): who may rotate and retire keys and reissue tickets, that what they do
reaches the door, that each ticket's mail lands in the mailbox with a link that opens the
ticket page, and who may read the mailbox."""

import uuid
from email import policy
from email.parser import BytesParser
from urllib.parse import urlsplit

import pytest

from services.system import definition
from shared.auth import DEFAULT_ORGANISATION, ORGANISER, STAFF, Principal, ensure_token
from shared.runtime import ServiceRuntime
from shared.settings import Settings
from shared.tokens import InvalidTicketToken, load_public_key, verify_ticket
from tests.support import wait_until

STAFF_TOKEN = "test-staff-token-of-a-door-device"
OTHER_ORGANISER_TOKEN = "test-organiser-token-of-southwind"
UNKNOWN = "6b0f3c1e-8d4a-4c55-9a57-0e1d2f3a4b5c"


def grant(embedded, token: str, principal: Principal) -> dict:
    runtime = embedded.system.runtimes["ticketing"]
    with runtime.session_factory() as session:
        ensure_token(session, runtime.tables.tokens, token, principal)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def showcase(embedded) -> dict:
    """A published event with one confirmed attendee whose ticket has reached the door."""
    event_id, ticket_type_id = embedded.published_event(quota=10, venue="Hall A")
    registration = embedded.registered(event_id, ticket_type_id, name="陳大文")
    ticket = embedded.wait_for_ticket(registration)
    embedded.wait_until_in_roster(ticket["id"])
    return {"event_id": event_id, "registration": registration, "ticket": ticket}


def current_ticket(embedded, registration: dict, other_than: str) -> dict:
    """The registration's ticket once it is no longer `other_than`, and is at the door."""
    ticket = wait_until(
        lambda: (t := embedded.ticket(registration).json())["id"] != other_than and t,
        15,
        "the new ticket",
    )
    embedded.wait_until_in_roster(ticket["id"])
    return ticket


def organiser_routes(showcase) -> list[tuple[str, str]]:
    event_id, ticket_id = showcase["event_id"], showcase["ticket"]["id"]
    key_id = showcase["key_id"]
    return [
        ("GET", f"/api/ticketing/events/{event_id}/keys"),
        ("POST", f"/api/ticketing/events/{event_id}/keys"),
        ("POST", f"/api/ticketing/events/{event_id}/keys/{key_id}/retire"),
        ("GET", f"/api/ticketing/events/{event_id}/tickets"),
        ("POST", f"/api/ticketing/tickets/{ticket_id}/reissue"),
    ]


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    return response.json()


# --- who may ------------------------------------------------------------------------------


def test_only_the_events_organiser_may_manage_its_keys_and_tickets(embedded, showcase):
    keys = embedded.get(
        f"/api/ticketing/events/{showcase['event_id']}/keys", headers=embedded.organiser
    )
    showcase["key_id"] = keys.json()["keys"][0]["key_id"]
    staff = grant(
        embedded, STAFF_TOKEN, Principal(STAFF, DEFAULT_ORGANISATION, showcase["event_id"])
    )
    southwind = grant(embedded, OTHER_ORGANISER_TOKEN, Principal(ORGANISER, "southwind"))

    for method, path in organiser_routes(showcase):
        call = embedded.http.request
        assert problem(call(method, embedded.url(path), timeout=30), 401)["type"].endswith(
            "unauthorized"
        )
        wrong = {"Authorization": "Bearer not-a-token-anyone-was-given"}
        problem(call(method, embedded.url(path), headers=wrong, timeout=30), 401)
        problem(call(method, embedded.url(path), headers=staff, timeout=30), 403)
        # Another organisation's event, key and ticket answer like missing ones.
        problem(call(method, embedded.url(path), headers=southwind, timeout=30), 404)

    # Nothing was changed by any of it.
    assert embedded.ticket(showcase["registration"]).json()["id"] == showcase["ticket"]["id"]
    assert [key["retired_at"] for key in keys.json()["keys"]] == [None]


def test_unknown_events_keys_and_tickets_answer_404_and_a_bad_filter_422(embedded, showcase):
    event_id = showcase["event_id"]
    for method, path in [
        ("GET", f"/api/ticketing/events/{UNKNOWN}/keys"),
        ("POST", f"/api/ticketing/events/{UNKNOWN}/keys"),
        ("POST", f"/api/ticketing/events/{event_id}/keys/0badc0de/retire"),
        ("POST", f"/api/ticketing/tickets/{UNKNOWN}/reissue"),
        ("POST", "/api/ticketing/tickets/not-a-uuid/reissue"),
    ]:
        problem(embedded.http.request(method, embedded.url(path), headers=embedded.organiser), 404)

    body = problem(
        embedded.get(
            f"/api/ticketing/events/{event_id}/tickets",
            params={"registration_id": "nope"},
            headers=embedded.organiser,
        ),
        422,
    )
    assert set(body["errors"]["query"]) == {"registration_id"}


def test_a_refusal_is_explained_in_the_callers_language(embedded, showcase):
    ticket_id = showcase["ticket"]["id"]
    reissue = f"/api/ticketing/tickets/{ticket_id}/reissue"
    assert embedded.post(reissue, headers=embedded.organiser).status_code == 201

    in_hong_kong = {**embedded.organiser, "Accept-Language": "zh-HK,zh;q=0.9,en;q=0.5"}
    in_shenzhen = {**embedded.organiser, "Accept-Language": "zh-CN"}
    revoked = problem(embedded.post(reissue, headers=in_hong_kong), 409)
    missing = problem(
        embedded.post(f"/api/ticketing/tickets/{UNKNOWN}/reissue", headers=in_shenzhen), 404
    )
    in_english = problem(
        embedded.post(f"/api/ticketing/tickets/{UNKNOWN}/reissue", headers=embedded.organiser),
        404,
    )

    assert revoked["detail"] == "此門票已作廢；請重新發出該登記目前的門票。"
    assert revoked["type"] == "urn:loopgate:problem:conflict"
    assert missing["detail"] == "找不到该门票。"
    assert in_english["detail"] == "No such ticket."


# --- what reaches the door ------------------------------------------------------------------


def test_a_reissued_ticket_scans_ok_and_the_lost_one_scans_revoked(embedded, showcase):
    lost = showcase["ticket"]

    reissued = embedded.post(
        f"/api/ticketing/tickets/{lost['id']}/reissue", headers=embedded.organiser
    )
    again = embedded.post(
        f"/api/ticketing/tickets/{lost['id']}/reissue", headers=embedded.organiser
    )

    assert reissued.status_code == 201, reissued.text
    assert reissued.json()["status"] == "valid"
    assert "payload" not in reissued.json()  # the token goes to the attendee only
    problem(again, 409)
    new = current_ticket(embedded, showcase["registration"], other_than=lost["id"])
    assert new["id"] == reissued.json()["id"]
    assert wait_until(
        lambda: embedded.scan(lost["payload"])["verdict"] == "revoked", 15, "the old ticket revoked"
    )
    assert embedded.scan(new["payload"])["verdict"] == "ok"
    history = embedded.get(
        f"/api/ticketing/events/{showcase['event_id']}/tickets",
        params={"registration_id": showcase["registration"]["id"]},
        headers=embedded.organiser,
    ).json()["tickets"]
    assert [(t["id"], t["status"], t["revoked_reason"]) for t in history] == [
        (lost["id"], "revoked", "reissued"),
        (new["id"], "valid", None),
    ]


def door_keys(embedded) -> dict:
    """The public keys a door device downloads, ready for verify_ticket."""
    keys = embedded.get("/api/ticketing/keys", headers=embedded.organiser).json()["keys"]
    return {
        key["key_id"]: load_public_key(key["public_key"]) for key in keys if not key["retired_at"]
    }


def test_rotating_keeps_old_tickets_valid_and_retiring_replaces_them(embedded, showcase):
    event_id, old = showcase["event_id"], showcase["ticket"]
    old_key_id = verify_ticket(old["payload"], door_keys(embedded)).key_id

    rotated = embedded.post(f"/api/ticketing/events/{event_id}/keys", headers=embedded.organiser)

    assert rotated.status_code == 201, rotated.text
    new_key_id = rotated.json()["key_id"]
    assert {old_key_id, new_key_id} <= set(door_keys(embedded))
    verify_ticket(old["payload"], door_keys(embedded))  # still verifies after the rotation

    retired = embedded.post(
        f"/api/ticketing/events/{event_id}/keys/{old_key_id}/retire", headers=embedded.organiser
    )

    assert retired.status_code == 200, retired.text
    assert retired.json()["reissued_tickets"] == 1
    assert retired.json()["key"]["retired_at"] is not None
    again = embedded.post(
        f"/api/ticketing/events/{event_id}/keys/{old_key_id}/retire", headers=embedded.organiser
    )
    problem(again, 409)
    assert old_key_id not in door_keys(embedded)
    with pytest.raises(InvalidTicketToken):
        verify_ticket(old["payload"], door_keys(embedded))
    replacement = current_ticket(embedded, showcase["registration"], other_than=old["id"])
    assert verify_ticket(replacement["payload"], door_keys(embedded)).key_id == new_key_id
    # A retired key's codes are invalid at the door, which outranks the old ticket's revocation.
    assert wait_until(
        lambda: embedded.scan(old["payload"])["verdict"] == "invalid", 15, "the old ticket refused"
    )
    assert embedded.scan(replacement["payload"])["verdict"] == "ok"
    keys = embedded.get(f"/api/ticketing/events/{event_id}/keys", headers=embedded.organiser)
    assert [(k["key_id"], k["retired_at"] is not None) for k in keys.json()["keys"]] == [
        (old_key_id, True),
        (new_key_id, False),
    ]


# --- the mail and the ticket page ---------------------------------------------------------


def mailbox_files(embedded) -> list:
    return sorted((embedded.system.settings.mailbox_dir).glob("*.eml"))


def test_each_ticket_is_mailed_to_the_mailbox_and_its_link_opens_the_ticket_page(
    embedded, showcase
):
    (file,) = wait_until(lambda: mailbox_files(embedded), 15, "the ticket mail")
    message = BytesParser(policy=policy.default).parsebytes(file.read_bytes())
    link = next(
        line
        for line in message.get_body(("plain",)).get_content().splitlines()
        if "/pages/" in line
    )
    assert link.startswith(embedded.system.settings.public_url)
    served = urlsplit(link)

    page = embedded.get(f"{served.path}?{served.query}")

    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert "陳大文" in page.text and "Hall A" in page.text
    assert 'src="data:image/svg+xml;base64,' in page.text
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_the_mailbox_page_lists_the_mail_and_shows_each_one(embedded, showcase):
    (file,) = wait_until(lambda: mailbox_files(embedded), 15, "the ticket mail")

    listing = embedded.get("/api/ticketing/mailbox")
    read = embedded.get(f"/api/ticketing/mailbox/{file.stem}")
    download = embedded.get(f"/api/ticketing/mailbox/{file.stem}.eml")

    assert listing.status_code == 200
    assert "Your ticket: Demo Day" in listing.text
    assert f"/api/ticketing/mailbox/{file.stem}" in listing.text
    assert read.status_code == 200
    assert "cid:" not in read.text and "data:image/png;base64," in read.text
    assert download.content == file.read_bytes()
    assert download.headers["Content-Type"].startswith("message/rfc822")
    problem(embedded.get(f"/api/ticketing/mailbox/{uuid.uuid4()}"), 404)


def test_a_revoked_tickets_page_says_so_and_shows_no_code(embedded, showcase):
    registration = showcase["registration"]
    assert embedded.cancel(registration).status_code == 200
    wait_until(
        lambda: embedded.ticket(registration).json()["status"] == "revoked", 15, "the revocation"
    )

    page = embedded.get(
        f"/api/ticketing/pages/registrations/{registration['id']}/ticket",
        params={"token": registration["manage_token"]},
    )

    assert page.status_code == 200
    assert "This ticket has been revoked" in page.text
    assert "Your registration was cancelled" in page.text
    assert "<img" not in page.text


def test_a_ticket_page_link_with_a_wrong_key_or_token_finds_nothing(embedded, showcase):
    ticket, registration = showcase["ticket"], showcase["registration"]
    for path, params in [
        (f"/api/ticketing/pages/tickets/{ticket['id']}", {"key": "guessed"}),
        (f"/api/ticketing/pages/tickets/{ticket['id']}", {}),
        (f"/api/ticketing/pages/registrations/{registration['id']}/ticket", {"token": "guessed"}),
        (f"/api/ticketing/pages/registrations/{UNKNOWN}/ticket", {"token": "guessed"}),
    ]:
        page = embedded.get(path, params=params)
        assert page.status_code == 404
        assert "No ticket for this link yet." in page.text
        assert ticket["payload"] not in page.text and "陳大文" not in page.text


def test_the_mailbox_exists_only_in_embedded_mode_without_an_smtp_server(tmp_path):
    for environment in (
        {"LOOPGATE_MODE": "distributed"},
        {"LOOPGATE_SMTP_URL": "smtp://127.0.0.1:2525"},
    ):
        settings = Settings.from_env(
            {
                "LOOPGATE_DATA_DIR": str(tmp_path),
                "LOOPGATE_TICKETING_DATABASE_URL": f"sqlite:///{tmp_path / 'ticketing.db'}",
                **environment,
            }
        )
        runtime = ServiceRuntime(definition("ticketing"), settings)
        try:
            client = definition("ticketing").app_factory(runtime=runtime).test_client()
            response = client.get("/api/ticketing/mailbox")
            assert response.status_code == 404, environment
            assert response.headers["Content-Type"].startswith("application/problem+json")
        finally:
            runtime.dispose()


def test_the_mailbox_is_not_shown_to_another_machine(embedded):
    ticketing = embedded.system.runtimes["ticketing"]
    client = definition("ticketing").app_factory(runtime=ticketing).test_client()

    from_venue_network = client.get(
        "/api/ticketing/mailbox", environ_base={"REMOTE_ADDR": "192.168.1.23"}
    )
    from_this_machine = client.get(
        "/api/ticketing/mailbox", environ_base={"REMOTE_ADDR": "127.0.0.1"}
    )

    assert from_venue_network.status_code == 404
    assert from_this_machine.status_code == 200
