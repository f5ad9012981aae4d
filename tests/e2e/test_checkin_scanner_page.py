"""The scanner page in headless Chromium: pair with a code, scan as a handheld keyboard-wedge
scanner types (the code, then Enter), lose the network, keep scanning from the offline bundle
with signatures checked in the browser, come back and sync (DESIGN.md, "door staff")."""

from tests.forgery import forged_with, leaked_key
from tests.support import wait_until


def test_a_door_device_pairs_scans_goes_offline_and_syncs(embedded, page):
    event_id, ticket_type_id = embedded.published_event()
    tickets = []
    for name in ("Grace Hopper", "陳大文"):
        registration = embedded.registered(event_id, ticket_type_id, name=name)
        ticket = embedded.wait_for_ticket(registration)
        embedded.wait_until_in_roster(ticket["id"])
        tickets.append(ticket)
    main = embedded.get(f"/api/checkin/events/{event_id}/lists", headers=embedded.organiser)
    code = embedded.post(
        f"/api/checkin/lists/{main.json()[0]['id']}/pairing-codes", headers=embedded.organiser
    ).json()["code"]
    requested_hosts = set()
    page.on("request", lambda request: requested_hosts.add(request.url.split("/")[2]))

    page.goto(embedded.url("/api/checkin/scanner"))
    page.fill("#pair-code", code)
    page.fill("#device-name", "East gate phone")
    page.click("#pair-button")
    page.wait_for_selector("body[data-bundle=ready]")

    def scan(payload: str) -> None:
        # A keyboard-wedge scanner types into the focused field and presses Enter.
        page.keyboard.type(payload)
        page.keyboard.press("Enter")

    def verdict_is(verdict: str) -> None:
        page.wait_for_selector(f"#verdict[data-verdict={verdict}]")

    scan(tickets[0]["payload"])
    verdict_is("ok")
    assert "good" in page.get_attribute("#verdict", "class")
    assert page.inner_text("#verdict-name") == "Grace Hopper"
    assert page.is_hidden("#verdict-offline")

    page.context.set_offline(True)
    page.wait_for_selector("#network.offline")
    scan(tickets[1]["payload"])
    verdict_is("ok")
    assert page.inner_text("#verdict-name") == "陳大文"
    assert page.is_visible("#verdict-offline")
    scan(tickets[0]["payload"])
    verdict_is("already_checked_in")
    assert "warn" in page.get_attribute("#verdict", "class")
    assert page.get_attribute("#queue", "data-count") == "2"
    assert page.inner_text("#queue-count") == "2"
    forged = (
        tickets[1]["payload"][:-3]
        + ("A" if tickets[1]["payload"][-3] != "A" else "B")
        + tickets[1]["payload"][-2:]
    )
    scan(forged)
    verdict_is("invalid")

    page.context.set_offline(False)
    page.wait_for_selector("#queue[data-count='0']", state="attached", timeout=20_000)
    assert page.is_hidden("#queue")
    record = wait_until(
        lambda: embedded.roster_ticket(tickets[1]["id"]).json()["admissions"] or None,
        10,
        "the offline scan recorded by the server",
    )
    assert len(record) == 1 and record[0]["gate"] == "Main entrance"
    assert len(embedded.roster_ticket(tickets[0]["id"]).json()["admissions"]) == 1
    assert requested_hosts == {embedded.base_url.split("/")[2]}


def test_offline_the_scanner_refuses_a_retired_keys_codes_and_another_events_key(embedded, page):
    """Issue 14: once the door has heard of a retirement, the device's own verification
    refuses the retired key's codes too; and a code signed with another event's key never
    passes offline (that key is not in this event's bundle)."""
    event_id, ticket_type_id = embedded.published_event()
    other_event, other_type = embedded.published_event()
    ticket = embedded.wait_for_ticket(embedded.registered(event_id, ticket_type_id))
    embedded.wait_for_ticket(embedded.registered(other_event, other_type))
    embedded.wait_until_in_roster(ticket["id"])
    ticketing = embedded.system.runtimes["ticketing"]
    forged = forged_with(leaked_key(ticketing, other_event), ticket["payload"])
    [key] = embedded.signing_keys(event_id)
    embedded.retire_key(event_id, key["key_id"])
    wait_until(
        lambda: embedded.scan(ticket["payload"])["verdict"] == "invalid",
        5,
        "the door heard of the retirement",
    )
    main = embedded.get(f"/api/checkin/events/{event_id}/lists", headers=embedded.organiser)
    code = embedded.post(
        f"/api/checkin/lists/{main.json()[0]['id']}/pairing-codes", headers=embedded.organiser
    ).json()["code"]

    page.goto(embedded.url("/api/checkin/scanner"))
    page.fill("#pair-code", code)
    page.fill("#device-name", "West gate phone")
    page.click("#pair-button")
    page.wait_for_selector("body[data-bundle=ready]")
    page.context.set_offline(True)
    page.wait_for_selector("#network.offline")

    page.keyboard.type(ticket["payload"])
    page.keyboard.press("Enter")
    page.wait_for_selector("#verdict[data-verdict=invalid]")
    page.keyboard.type(forged)
    page.keyboard.press("Enter")
    page.wait_for_selector("#verdict[data-verdict=unknown_ticket]")
