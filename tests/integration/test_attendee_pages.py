"""The attendee's pages say where they stand (issue 17, "Seen"): the page after registering
says plainly that a waitlisted or pending attendee has no place yet and what happens next;
cancelling asks once, saying the place goes to the next on the waitlist; withdrawing a
required consent is refused with a clear message, an optional one takes effect."""

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.integration.test_attendee_mails import event_with
from tests.support import module_loopgate

API = "/api/registration"

embedded = module_loopgate("attendee-pages")


def add_consent(flow, event_id: str, label: str, required: bool) -> str:
    response = flow.post(
        f"{API}/events/{event_id}/questions",
        json={"kind": "consent", "label": label, "required": required},
        headers=flow.organiser,
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def register_on_the_page(flow, event_id, ticket_type_id, name: str, **answers):
    form = {"name": name, "email": f"{name.lower()}@example.com", "ticket_type_id": ticket_type_id}
    for question_id, value in answers.items():
        form[f"answer-{question_id}"], form[f"kind-{question_id}"] = value, "consent"
    response = flow.post(f"/events/{event_id}", data=form, allow_redirects=False)
    assert response.status_code == 303, response.text
    return response.headers["Location"]


def test_a_waitlisted_attendee_is_told_plainly_they_have_no_place_yet(embedded):
    event_id, ticket_type_id = event_with(embedded, quota=1, waitlist_claim_minutes=90)
    first = embedded.get(register_on_the_page(embedded, event_id, ticket_type_id, "Ada"))
    second = embedded.get(register_on_the_page(embedded, event_id, ticket_type_id, "Grace"))

    assert "Thank you for registering" in first.text
    assert "Thank you for registering" not in second.text
    assert "You are on the waiting list" in second.text
    assert "you are number 1 on the waiting list" in second.text
    assert "you then have 90 minutes to claim it on this page" in second.text


def test_a_pending_attendee_is_told_they_wait_for_the_organiser(embedded):
    event_id, ticket_type_id = event_with(embedded, quota=5, requires_approval=True)

    page = embedded.get(register_on_the_page(embedded, event_id, ticket_type_id, "Alan"))

    assert "Thank you for registering" not in page.text
    assert "Your registration waits for the organiser" in page.text
    assert "You have no place yet" in page.text


def test_cancelling_asks_once_and_says_the_place_goes_to_the_next_on_the_waitlist(embedded):
    event_id, ticket_type_id = event_with(embedded, quota=1)
    manage = register_on_the_page(embedded, event_id, ticket_type_id, "Joan")
    registration_path = urlsplit(manage).path
    token = parse_qs(urlsplit(manage).query)["token"][0]

    asked = embedded.post(f"{registration_path}/cancel", data={"token": token})

    assert "Yes, cancel my registration" in asked.text
    assert "goes at once to the next person on the waiting list" in asked.text
    assert 'id="status">Confirmed' in asked.text
    done = embedded.post(f"{registration_path}/cancel", data={"token": token, "confirmed": "yes"})
    assert 'id="status">Cancelled' in done.text and "Your registration is cancelled." in done.text


@pytest.mark.parametrize("required", [True, False])
def test_unticking_a_consent_is_refused_when_required_and_takes_effect_when_not(embedded, required):
    event_id, ticket_type_id = event_with(embedded, quota=5, publish=False)
    consent = add_consent(embedded, event_id, "Photos may show me", required=required)
    embedded.publish(event_id)
    manage = register_on_the_page(embedded, event_id, ticket_type_id, "Mary", **{consent: "yes"})
    registration_path, query = urlsplit(manage).path, parse_qs(urlsplit(manage).query)
    token = query["token"][0]

    # The box unticked: the browser sends the question's kind but no answer.
    saved = embedded.post(
        f"{registration_path}/answers", data={"token": token, f"kind-{consent}": "consent"}
    )

    registration_id = registration_path.rsplit("/", 1)[1]
    answers = embedded.get(
        f"{API}/registrations/{registration_id}", params={"token": token}
    ).json()["answers"]
    if required:
        assert saved.status_code == 422
        assert "This consent is required to take part" in saved.text
        assert "Your answers are saved." not in saved.text
        assert answers[consent] is True
    else:
        assert saved.status_code == 200 and "Your answers are saved." in saved.text
        assert answers[consent] is False
