"""Ticketing's organiser pages over real HTTP, on a whole embedded Loopgate, as a browser uses
them: signed in once through /organiser/login, a manager rotates and retires an event's
signing keys and resends, reissues and revokes an attendee's ticket, and the doors follow;
a viewer reads and changes nothing; another organisation, another event, a signed-out
browser, a form without its token and ids that name nothing get what they must."""

import email
import re
import time
import uuid
from email import policy

import pytest
import requests

from tests.support import (
    CoreFlow,
    invited_member_headers,
    member_browser,
    module_loopgate,
    new_organisation,
    signed_in_member,
    wait_until,
)

PAGES = "/api/ticketing/organiser"
embedded = module_loopgate("ticketing-pages")


@pytest.fixture(scope="module")
def team(embedded):
    """Members of the bootstrap token's own organisation, whose events the flow makes, each
    signed in in a browser of their own."""
    tag = uuid.uuid4().hex[:6]
    return {
        role: member_browser(embedded, embedded.organiser, f"{role}-{tag}@example.com", role)
        for role in ("manager", "viewer")
    }


def form_of(page: requests.Response, action: str) -> dict[str, str]:
    """The hidden fields of the page's form that posts to `action`."""
    form = re.search(
        rf'<form method="post" action="{re.escape(action)}".*?</form>', page.text, re.S
    )
    assert form, f"no form to {action} on the page"
    return dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', form.group(0)))


def posted(browser: requests.Session, flow: CoreFlow, page: requests.Response, action: str):
    return browser.post(flow.url(action), data=form_of(page, action), allow_redirects=False)


def ticketed(flow: CoreFlow, event_id: str, ticket_type_id: str, name: str) -> dict:
    registration = flow.registered(event_id, ticket_type_id, name=name)
    ticket = flow.wait_for_ticket(registration)
    flow.wait_until_in_roster(ticket["id"])
    return {**ticket, "registration": registration}


def ticket_mails(flow: CoreFlow, address: str) -> int:
    """How many ticket mails the local mailbox holds for `address` (its To names the
    attendee too)."""
    files = flow.mailbox_dir.glob("*.eml")
    messages = [email.message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]
    return sum(m["To"].addresses[0].addr_spec == address for m in messages)


def scans(flow: CoreFlow, payload: str, verdict: str) -> None:
    wait_until(lambda: flow.scan(payload)["verdict"] == verdict, 10, f"the door to say {verdict}")


def test_a_manager_rotates_a_key_and_retires_one_after_its_warning(embedded, team):
    flow, browser = embedded, team["manager"]
    event_id, ticket_type_id = flow.published_event()
    first = ticketed(flow, event_id, ticket_type_id, "Ada Lovelace")
    [old_key] = flow.signing_keys(event_id)
    keys_page = f"{PAGES}/events/{event_id}/keys"

    page = browser.get(flow.url(keys_page))
    assert page.status_code == 200
    assert old_key["key_id"] in page.text and "Signs new tickets" in page.text
    rotated = posted(browser, flow, page, keys_page)
    assert rotated.status_code == 303
    page = browser.get(flow.url(rotated.headers["Location"]))
    assert "A new key signs new tickets from now on" in page.text
    [_, new_key] = flow.signing_keys(event_id)
    second = ticketed(flow, event_id, ticket_type_id, "Grace Hopper")
    assert second["payload"] != first["payload"]
    tickets = flow.get(f"/api/ticketing/events/{event_id}/tickets", headers=flow.organiser)
    signed_by = {t["id"]: t["key_id"] for t in tickets.json()["tickets"]}
    assert signed_by == {first["id"]: old_key["key_id"], second["id"]: new_key["key_id"]}
    assert flow.scan(first["payload"])["verdict"] == "ok", "a rotation leaves old tickets valid"

    retire = f"{keys_page}/{old_key['key_id']}/retire"
    warning = browser.get(flow.url(retire))
    assert warning.status_code == 200
    assert "It signed 1 ticket that is still valid" in warning.text
    assert "devices working offline once they next sync" in warning.text
    retired = posted(browser, flow, warning, retire)
    assert retired.status_code == 303 and retired.headers["Location"].endswith("done=retired")
    again = posted(browser, flow, warning, retire)
    assert again.headers["Location"].endswith("done=already_retired")

    scans(flow, first["payload"], "invalid")
    reissued = wait_until(
        lambda: (t := flow.ticket(first["registration"]).json())["id"] != first["id"] and t,
        15,
        "the retired key's ticket reissued",
    )
    flow.wait_until_in_roster(reissued["id"])
    assert flow.scan(reissued["payload"])["verdict"] == "ok"
    page = browser.get(flow.url(keys_page))
    assert page.text.count("Retire…") == 1, "the retired key offers no retirement"


def test_a_manager_resends_reissues_and_revokes_an_attendees_ticket(embedded, team):
    flow, browser = embedded, team["manager"]
    event_id, ticket_type_id = flow.published_event()
    address = f"ada-{uuid.uuid4().hex[:6]}@example.com"
    registration = flow.registered(event_id, ticket_type_id, name="Ada Lovelace", email=address)
    first = flow.wait_for_ticket(registration)
    flow.wait_until_in_roster(first["id"])
    wait_until(lambda: ticket_mails(flow, address) == 1, 15, "the ticket's first mail")
    ticket_page = f"{PAGES}/registrations/{registration['id']}/ticket"

    page = browser.get(flow.url(ticket_page))
    assert page.status_code == 200
    assert "Ticket of Ada Lovelace" in page.text and "Valid" in page.text
    assert address in page.text and ">Sent<" in page.text
    resent = posted(browser, flow, page, f"{ticket_page}/resend")
    assert resent.headers["Location"].endswith("done=resent")
    # The same form sent again (a double click, a retry) mails nothing more.
    repeated = posted(browser, flow, page, f"{ticket_page}/resend")
    assert repeated.headers["Location"].endswith("done=already_resent")
    wait_until(lambda: ticket_mails(flow, address) == 2, 15, "the resent mail")
    time.sleep(1.5)  # the mail relay runs every half second
    assert ticket_mails(flow, address) == 2

    confirm = browser.get(flow.url(f"{ticket_page}/reissue"))
    assert "The current code stops scanning at every door" in confirm.text
    reissued = posted(browser, flow, confirm, f"{ticket_page}/reissue")
    assert reissued.headers["Location"].endswith("done=reissued")
    twice = posted(browser, flow, confirm, f"{ticket_page}/reissue")
    assert twice.headers["Location"].endswith("done=already_changed"), "one reissue, not two"
    second = flow.wait_for_ticket(registration)
    assert second["id"] != first["id"]
    flow.wait_until_in_roster(second["id"])
    scans(flow, first["payload"], "revoked")
    assert flow.scan(second["payload"])["verdict"] == "ok"
    tickets = flow.get(
        f"/api/ticketing/events/{event_id}/tickets",
        params={"registration_id": registration["id"]},
        headers=flow.organiser,
    ).json()["tickets"]
    assert len(tickets) == 2
    wait_until(lambda: ticket_mails(flow, address) == 3, 15, "the reissued ticket's mail")

    page = browser.get(flow.url(ticket_page))
    assert "Reissued by an organiser: a new ticket replaced it" in page.text
    confirm = browser.get(flow.url(f"{ticket_page}/revoke"))
    assert "The ticket will no longer admit Ada Lovelace" in confirm.text
    revoked = posted(browser, flow, confirm, f"{ticket_page}/revoke")
    assert revoked.headers["Location"].endswith("done=revoked")
    scans(flow, second["payload"], "revoked")
    assert flow.ticket(registration).json()["status"] == "revoked"
    attendees_page = flow.get(
        f"/api/ticketing/pages/registrations/{registration['id']}/ticket",
        params={"token": registration["manage_token"]},
    )
    assert "The organiser revoked this ticket" in attendees_page.text
    page = browser.get(flow.url(ticket_page))
    assert "Revoked by an organiser" in page.text
    assert "Send the ticket mail again" not in page.text, "a revoked ticket offers no actions"


def test_a_viewer_sees_the_pages_but_their_forms_change_nothing(embedded, team):
    flow, viewer, manager = embedded, team["viewer"], team["manager"]
    event_id, ticket_type_id = flow.published_event()
    ticket = ticketed(flow, event_id, ticket_type_id, "Ada Lovelace")
    keys_page = f"{PAGES}/events/{event_id}/keys"
    ticket_page = f"{PAGES}/registrations/{ticket['registration']['id']}/ticket"

    keys = viewer.get(flow.url(keys_page))
    assert keys.status_code == 200 and "Only owners and managers" in keys.text
    assert "Rotate" not in keys.text and "Retire" not in keys.text
    page = viewer.get(flow.url(ticket_page))
    assert page.status_code == 200 and "Ticket of Ada Lovelace" in page.text
    assert "Send the ticket mail again" not in page.text and "Reissue" not in page.text

    # The manager's forms, as the viewer would send them with their own token.
    csrf = form_of(keys, "/organiser/logout")
    forms = {
        keys_page: {},
        f"{ticket_page}/resend": form_of(
            manager.get(flow.url(ticket_page)), f"{ticket_page}/resend"
        ),
        f"{ticket_page}/reissue": {"ticket_id": ticket["id"]},
        f"{ticket_page}/revoke": {"ticket_id": ticket["id"]},
        f"{keys_page}/{flow.signing_keys(event_id)[0]['key_id']}/retire": {},
    }
    for action, fields in forms.items():
        answer = viewer.post(flow.url(action), data={**fields, **csrf}, allow_redirects=False)
        assert answer.status_code == 403, action
    assert len(flow.signing_keys(event_id)) == 1
    assert flow.ticket(ticket["registration"]).json()["id"] == ticket["id"]


def test_another_organisation_and_another_event_find_nothing(embedded, team):
    flow = embedded
    event_id, ticket_type_id = flow.published_event()
    ticket = ticketed(flow, event_id, ticket_type_id, "Ada Lovelace")
    other_event, _ = flow.published_event()
    tag = uuid.uuid4().hex[:6]
    outsider = f"owner-{tag}@example.com"
    new_organisation(flow, "Kowloon Labs", outsider)
    limited = f"limited-{tag}@example.com"
    invited_member_headers(flow, flow.organiser, limited, "manager", event_ids=[other_event])
    ticket_page = f"{PAGES}/registrations/{ticket['registration']['id']}/ticket"
    keys_page = f"{PAGES}/events/{event_id}/keys"

    for address in (outsider, limited):
        browser = signed_in_member(flow, address)
        assert browser.get(flow.url(keys_page)).status_code == 404
        assert browser.get(flow.url(ticket_page)).status_code == 404
        csrf = form_of(browser.get(flow.url("/organiser/")), "/organiser/logout")
        for action, fields in {
            keys_page: {},
            f"{ticket_page}/reissue": {"ticket_id": ticket["id"]},
            f"{ticket_page}/resend": {"ticket_id": ticket["id"], "mails_seen": "1"},
        }.items():
            answer = browser.post(flow.url(action), data={**fields, **csrf})
            assert answer.status_code == 404, (address, action)
    assert len(flow.signing_keys(event_id)) == 1
    assert flow.ticket(ticket["registration"]).json()["id"] == ticket["id"]


def test_signed_out_forms_without_their_token_and_ids_that_name_nothing(embedded, team):
    flow, browser = embedded, team["manager"]
    event_id, ticket_type_id = flow.published_event()
    ticket = ticketed(flow, event_id, ticket_type_id, "Ada Lovelace")
    keys_page = f"{PAGES}/events/{event_id}/keys"
    ticket_page = f"{PAGES}/registrations/{ticket['registration']['id']}/ticket"

    stranger = requests.Session()
    for path in (keys_page, ticket_page):
        answer = stranger.get(flow.url(path), allow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["Location"].startswith("/organiser/login?next=")
    for action in (keys_page, f"{ticket_page}/reissue"):
        answer = browser.post(flow.url(action), data={"ticket_id": ticket["id"]})
        assert answer.status_code == 400, action

    missing = browser.get(flow.url(f"{PAGES}/registrations/{uuid.uuid4()}/ticket"))
    assert missing.status_code == 404 and "No ticket yet" in missing.text
    for path in (
        f"{PAGES}/registrations/not-a-uuid/ticket",
        f"{PAGES}/events/{uuid.uuid4()}/keys",
        f"{PAGES}/events/not-a-uuid/keys",
        f"{keys_page}/nokey/retire",
        f"{keys_page}/{'x' * 300}/retire",
        f"{ticket_page}/explode",
    ):
        assert browser.get(flow.url(path)).status_code == 404, path
    resend = form_of(browser.get(flow.url(ticket_page)), f"{ticket_page}/resend")
    for ticket_id in ("nope", str(uuid.uuid4())):
        answer = browser.post(
            flow.url(f"{ticket_page}/reissue"), data={**resend, "ticket_id": ticket_id}
        )
        assert answer.status_code == 404, ticket_id
    cut_short = {**resend, "mails_seen": "many"}
    assert browser.post(flow.url(f"{ticket_page}/resend"), data=cut_short).status_code == 422
