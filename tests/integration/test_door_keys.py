"""The door's trust in signing keys and scan ids, attacked over HTTP in both run modes
(issue 14): embedded, and distributed on RabbitMQ and PostgreSQL with every process running.

- One event's private key, leaked, forges nothing at another event: the door answers
  `invalid`, online and in offline batches.
- A retired key stops admitting within seconds of the organiser retiring it, at every
  process of the door, even for the very token it signed; the reissued ticket scans.
- A scan id answers only the device that sent it: another event's device reusing it learns
  nothing of that scan, and a genuine scan with a colliding id is judged and recorded.
"""

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine

from shared.db import create_database_engine
from shared.secret_box import SecretBox
from shared.settings import Settings
from tests.forgery import forged_with, leaked_key
from tests.support import CoreFlow, wait_until

# A retirement reaches every door process within this (docs/architecture.md).
RETIRED_WITHIN_SECONDS = 5


@dataclass
class Door:
    """A running Loopgate, with ticketing's database and key-encryption key as an attacker
    who copied them would hold them."""

    flow: CoreFlow
    engine: Engine
    secret_box: SecretBox


@pytest.fixture(params=["embedded", pytest.param("distributed", marks=pytest.mark.integration)])
def door(request, tmp_path):
    if request.param == "embedded":
        flow = request.getfixturevalue("embedded")
        runtime = flow.system.runtimes["ticketing"]
        yield Door(flow, runtime.engine, runtime.secret_box)
        return
    distributed = request.getfixturevalue("distributed")
    settings = Settings.from_env({"LOOPGATE_DATA_DIR": distributed.env["LOOPGATE_DATA_DIR"]})
    engine = create_database_engine(distributed.database_urls["ticketing"])
    yield Door(CoreFlow(distributed.url), engine, settings.secret_box())
    engine.dispose()


def ticket_of_new_event(flow: CoreFlow, name: str = "Ada Lovelace") -> tuple[str, dict]:
    event_id, ticket_type_id = flow.published_event()
    registration = flow.registered(event_id, ticket_type_id, name=name)
    ticket = flow.wait_for_ticket(registration)
    flow.wait_until_in_roster(ticket["id"])
    return event_id, {**ticket, "registration": registration}


def paired_device(flow: CoreFlow, event_id: str, name: str) -> dict:
    lists = flow.get(f"/api/checkin/events/{event_id}/lists", headers=flow.organiser).json()
    code = flow.post(f"/api/checkin/lists/{lists[0]['id']}/pairing-codes", headers=flow.organiser)
    paired = flow.post(
        "/api/checkin/pairing-codes/redeem",
        json={"code": code.json()["code"], "device_name": name},
    )
    assert paired.status_code == 201, paired.text
    return {"Authorization": f"Bearer {paired.json()['token']}"}


def scanned_by(flow: CoreFlow, headers: dict, payload: str, scan_id: str) -> dict:
    response = flow.post(
        "/api/checkin/scans", json={"payload": payload, "scan_id": scan_id}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


def uploaded(flow: CoreFlow, payloads: list[str]) -> list[str]:
    now = datetime.now(UTC).isoformat()
    scans = [{"payload": p, "scan_id": uuid.uuid4().hex, "scanned_at": now} for p in payloads]
    response = flow.post("/api/checkin/scans/batch", json={"scans": scans}, headers=flow.organiser)
    assert response.status_code == 200, response.text
    return [result["verdict"] for result in response.json()["results"]]


def test_a_key_leaked_from_one_event_forges_nothing_at_another(door):
    flow = door.flow
    leaked_event, _ = ticket_of_new_event(flow)
    target_event, genuine = ticket_of_new_event(flow, name="Grace Hopper")

    forged = forged_with(leaked_key(door, leaked_event), genuine["payload"])

    assert flow.scan(forged)["verdict"] == "invalid"
    assert uploaded(flow, [forged, genuine["payload"]]) == ["invalid", "ok"]
    own = forged_with(leaked_key(door, target_event), genuine["payload"])
    assert flow.scan(own)["verdict"] == "already_checked_in", "the event's own key still signs"


def test_a_retired_key_stops_admitting_at_every_door_within_seconds(door):
    flow = door.flow
    event_id, ticket = ticket_of_new_event(flow)
    [key] = flow.signing_keys(event_id)
    assert flow.scan(ticket["payload"])["verdict"] == "ok"
    # Read the key into every door process's memory, as a busy door would have it.
    for _ in range(8):
        flow.scan(ticket["payload"])

    flow.retire_key(event_id, key["key_id"])
    retired_at = time.monotonic()
    wait_until(
        lambda: all(flow.scan(ticket["payload"])["verdict"] == "invalid" for _ in range(8)),
        RETIRED_WITHIN_SECONDS,
        "the retired key's ticket refused by every door process",
    )
    print(f"retired key refused after {time.monotonic() - retired_at:.2f} s")

    reissued = wait_until(
        lambda: (t := flow.ticket(ticket["registration"]).json())["id"] != ticket["id"] and t,
        15,
        "the reissued ticket",
    )
    flow.wait_until_in_roster(reissued["id"])
    assert flow.scan(reissued["payload"])["verdict"] == "ok"
    bundle = flow.get(f"/api/checkin/events/{event_id}/bundle", headers=flow.organiser).json()
    retired = {k["key_id"]: k["retired_at"] for k in bundle["keys"]}
    assert retired[key["key_id"]] is not None


def test_another_events_device_reusing_a_scan_id_learns_nothing_of_that_scan(door):
    flow = door.flow
    hall, hall_ticket = ticket_of_new_event(flow, name="Ada Lovelace")
    studio, studio_ticket = ticket_of_new_event(flow, name="Grace Hopper")
    hall_door = paired_device(flow, hall, "Hall gate")
    studio_door = paired_device(flow, studio, "Studio gate")
    assert scanned_by(flow, hall_door, hall_ticket["payload"], "door-1-0001")["verdict"] == "ok"

    replayed = scanned_by(flow, studio_door, hall_ticket["payload"], "door-1-0001")
    assert replayed["verdict"] == "wrong_event"
    assert "Ada Lovelace" not in str(replayed)

    scanned_by(flow, hall_door, hall_ticket["payload"], "door-1-0002")
    colliding = scanned_by(flow, studio_door, studio_ticket["payload"], "door-1-0002")
    assert colliding["verdict"] == "ok", "judged and recorded, not answered from the hall"
    assert colliding["ticket"]["attendee_name"] == "Grace Hopper"
    again = scanned_by(flow, hall_door, hall_ticket["payload"], "door-1-0001")
    assert again["verdict"] == "ok", "the hall's own retry still gets its first answer"
