"""Members on the distributed topology (gunicorn, workers, RabbitMQ, PostgreSQL, nginx): a
member's token works in every service at once, and removing the member or changing their
role reaches every service within 10 seconds (DESIGN.md), carried by RabbitMQ."""

import uuid

import pytest

from tests.support import CoreFlow, invited_member_headers, new_organisation, wait_until

pytestmark = pytest.mark.integration

MEMBER_CHANGE_SECONDS = 10


@pytest.fixture
def team_flow(flow: CoreFlow, distributed) -> CoreFlow:
    flow.mailbox_dir = distributed.mailbox_dir
    return flow


def lists_answer(flow: CoreFlow, headers: dict, event_id: str) -> int:
    return flow.get(f"/api/checkin/events/{event_id}/lists", headers=headers).status_code


def test_a_removed_or_demoted_member_is_refused_everywhere_within_seconds(team_flow):
    flow = team_flow
    owner = new_organisation(flow, "Harbour Lights", f"owner-{uuid.uuid4().hex[:6]}@example.com")
    organiser, flow.organiser = flow.organiser, owner
    event_id, _ticket_type = flow.published_event()
    flow.organiser = organiser
    wait_until(lambda: lists_answer(flow, owner, event_id) == 200, 15, "the event at check-in")

    door_address = f"door-{uuid.uuid4().hex[:6]}@example.com"
    door = invited_member_headers(flow, owner, door_address, "door")
    gate = f"/api/checkin/events/{event_id}/lists"
    assert flow.post(gate, json={"name": "Gate A"}, headers=door).status_code == 201
    member_id = next(
        m["id"]
        for m in flow.get("/api/registration/members", headers=owner).json()
        if m["email"] == door_address
    )
    changed = flow.http.patch(
        flow.url(f"/api/registration/members/{member_id}"), json={"role": "viewer"}, headers=owner
    )
    assert changed.status_code == 200
    wait_until(
        lambda: flow.post(gate, json={"name": "Gate B"}, headers=door).status_code == 403,
        MEMBER_CHANGE_SECONDS,
        "the new role at check-in",
    )
    removed = flow.http.delete(flow.url(f"/api/registration/members/{member_id}"), headers=owner)
    assert removed.status_code == 204
    wait_until(
        lambda: (
            {
                flow.get(
                    f"/api/registration/organisation/events/{event_id}", headers=door
                ).status_code,
                flow.get(f"/api/ticketing/events/{event_id}/keys", headers=door).status_code,
                lists_answer(flow, door, event_id),
            }
            == {401}
        ),
        MEMBER_CHANGE_SECONDS,
        "the removed member refused by every service",
    )
