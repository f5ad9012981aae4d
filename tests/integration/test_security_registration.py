"""The registration service's secrets and what an attendee types, attacked from outside an
embedded Loopgate (issue 14): each test is the attack, which now fails.

- An Idempotency-Key is no credential: another attendee's request under a used key is a 422
  that tells nothing of the first registration; the same key from another address is that
  client's own. The client that sent a request, and lost the answer, still gets its
  registration and manage token back when it sends the same request again.
- A copied registration database opens no registration: it holds no manage token, only
  digests, and the token kept for a repeated request is sealed.
- Addresses a mail cannot be delivered to, and names a mail header cannot carry, are refused
  by the API and the form alike, and nothing is stored.
"""

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from werkzeug.test import Client

from tests.integration.hostile_requests import (
    REGISTER,
    Call,
    assert_problem,
    assert_refused,
    attendee,
    registration_body,
)

REUSED_KEY = "urn:loopgate:problem:idempotency-key-reused"
ANOTHER_ADDRESSES = ("203.0.113.77", "2001:db8::77")


def register(loopgate, world, body: dict, key: str):
    return loopgate.post(
        f"/api/registration/events/{world.ids['event']}/registrations",
        json=body,
        headers={"Idempotency-Key": key},
    )


def ada_registers(loopgate, world, key: str) -> dict:
    body = registration_body(ticket_type_id=world.ids["ticket_type"])
    body["attendee"] = {"name": "Ada Lovelace", "email": f"ada-{key}@example.com"}
    response = register(loopgate, world, body, key)
    assert response.status_code == 201, response.text
    return {"body": body, "answer": response.json()}


def revealed(response_text: str, registration: dict) -> list[str]:
    """Which of the registration's secrets and personal data a response gives away."""
    secrets = [
        registration["id"],
        registration["manage_token"],
        registration["attendee"]["name"],
        registration["attendee"]["email"],
    ]
    return [secret for secret in secrets if secret in response_text]


def registration_form(world, name: str, email: str) -> dict:
    """The event page's form as a browser sends it, with the key the page was rendered with."""
    return {
        "name": name,
        "email": email,
        "ticket_type_id": world.ids["ticket_type"],
        "key": uuid.uuid4().hex,
    }


def listed_for(loopgate, world, email: str) -> list[dict]:
    listed = loopgate.get(
        f"/api/registration/events/{world.ids['event']}/registrations",
        params={"q": email},
        headers=loopgate.organiser,
    )
    assert listed.status_code == 200, listed.text
    return listed.json()


# --- an Idempotency-Key is no credential ----------------------------------------------------


def test_a_used_idempotency_key_with_another_attendee_reveals_nothing_and_registers_nobody(
    loopgate, world
):
    ada = ada_registers(loopgate, world, key="ada-taps-once")
    mallory = registration_body(ticket_type_id=world.ids["ticket_type"])

    response = assert_refused(
        loopgate,
        world,
        Call("POST", REGISTER, json=mallory, headers={"Idempotency-Key": "ada-taps-once"}),
        422,
    )

    assert response.json()["type"] == REUSED_KEY
    assert revealed(response.text, ada["answer"]) == []
    assert "Location" not in response.headers


def test_a_used_idempotency_key_with_other_answers_or_another_ticket_type_is_refused(
    loopgate, world
):
    ada = ada_registers(loopgate, world, key="ada-changes-her-mind")
    backstage = loopgate.add_ticket_type(world.ids["event"], quota=5, name="Backstage")
    for changed in (
        {**ada["body"], "ticket_type_id": backstage},
        {**ada["body"], "answers": {world.ids["question"]: "Vegetarian"}},
        {**ada["body"], "attendee": {**ada["body"]["attendee"], "name": "Ada King"}},
    ):
        response = register(loopgate, world, changed, "ada-changes-her-mind")
        assert_problem(response, 422)
        assert response.json()["type"] == REUSED_KEY
        assert revealed(response.text, ada["answer"]) == []


def test_the_same_key_sent_from_another_address_is_that_clients_own_key(loopgate, world):
    ada = ada_registers(loopgate, world, key="a-key-anyone-could-pick")
    elsewhere = Client(loopgate.system.app)
    mallory = registration_body(ticket_type_id=world.ids["ticket_type"])

    # Mallory sends her own details, then Ada's exact request (from a second address).
    for address, body in zip(ANOTHER_ADDRESSES, (mallory, ada["body"]), strict=True):
        response = elsewhere.post(
            f"/api/registration/events/{world.ids['event']}/registrations",
            json=body,
            headers={"Idempotency-Key": "a-key-anyone-could-pick"},
            environ_base={"REMOTE_ADDR": address},
        )
        assert response.status_code == 201, response.text
        assert "Idempotent-Replayed" not in response.headers
        answer = response.get_json()
        assert answer["id"] != ada["answer"]["id"]
        assert answer["manage_token"] != ada["answer"]["manage_token"]


def test_a_client_that_lost_the_answer_gets_the_same_registration_and_manage_token_again(
    loopgate, world
):
    ada = ada_registers(loopgate, world, key="ada-lost-her-answer")

    again = register(loopgate, world, ada["body"], "ada-lost-her-answer")

    assert again.status_code == 201, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    first, repeated = ada["answer"], again.json()
    assert (repeated["id"], repeated["status"], repeated["manage_token"]) == (
        first["id"],
        first["status"],
        first["manage_token"],
    )
    opened = loopgate.get(
        f"/api/registration/registrations/{first['id']}",
        params={"token": repeated["manage_token"]},
    )
    assert opened.status_code == 200, opened.text
    assert len(listed_for(loopgate, world, ada["body"]["attendee"]["email"])) == 1


def test_the_same_request_sent_many_times_at_once_is_one_registration(loopgate, world):
    body = registration_body(ticket_type_id=world.ids["ticket_type"])
    body["attendee"] = {"name": "Grace Hopper", "email": "grace.at.once@example.com"}

    with ThreadPoolExecutor(8) as clients:
        answers = list(
            clients.map(lambda _: register(loopgate, world, body, "grace-taps-8-times"), range(8))
        )

    assert [answer.status_code for answer in answers] == [201] * 8
    assert len({answer.json()["id"] for answer in answers}) == 1
    assert len({answer.json()["manage_token"] for answer in answers}) == 1
    assert len(listed_for(loopgate, world, "grace.at.once@example.com")) == 1


def test_an_erased_registration_is_not_handed_out_again_under_its_key(loopgate, world):
    ada = ada_registers(loopgate, world, key="ada-then-erased")
    erased = loopgate.post(
        f"/api/registration/registrations/{ada['answer']['id']}/erase",
        headers=loopgate.organiser,
    )
    assert erased.status_code == 200, erased.text

    again = register(loopgate, world, ada["body"], "ada-then-erased")

    assert again.status_code == 201, again.text
    assert "Idempotent-Replayed" not in again.headers
    assert again.json()["id"] != ada["answer"]["id"]
    assert again.json()["manage_token"] != ada["answer"]["manage_token"]


# --- a copied database opens no registration ------------------------------------------------


def test_the_registration_database_holds_no_manage_token(loopgate, world):
    with_key = ada_registers(loopgate, world, key="ada-for-the-thief")["answer"]
    without_key = loopgate.registered(world.ids["event"], world.ids["ticket_type"])

    stolen = b"".join(
        path.read_bytes()
        for path in loopgate.system.settings.data_dir.glob("registration.db*")
        if path.is_file()
    )

    for registration in (with_key, without_key):
        assert registration["manage_token"].encode() not in stolen
        opened = loopgate.get(
            f"/api/registration/registrations/{registration['id']}",
            params={"token": registration["manage_token"]},
        )
        assert opened.status_code == 200, opened.text


def test_a_form_sent_again_with_other_details_registers_nobody_and_says_why(loopgate, world):
    form = registration_form(world, "Mary Jackson", "mary.j@example.com")
    sent = loopgate.post(f"/events/{world.ids['event']}", data=form, allow_redirects=False)
    assert sent.status_code == 303

    # Back in the browser, another name typed over hers, and the same form sent again.
    page = loopgate.post(
        f"/events/{world.ids['event']}",
        data={**form, "name": "Dorothy Vaughan", "email": "dorothy.v@example.com"},
        headers={"Accept-Language": "zh-HK"},
    )

    assert page.status_code == 422
    assert "此表格或請求已用其他資料提交過一次" in page.text
    assert "Mary Jackson" not in page.text and "mary.j@example.com" not in page.text
    assert listed_for(loopgate, world, "dorothy.v@example.com") == []


# --- deliverable addresses and printable names ----------------------------------------------

UNDELIVERABLE = [
    pytest.param("a@localhost", id="localhost"),
    pytest.param("a@[127.0.0.1]", id="ip-literal"),
    pytest.param("a@[IPv6:::1]", id="ipv6-literal"),
    pytest.param("a%evil.com@example.com", id="percent-relay"),
    pytest.param('"a b"@example.com', id="quoted-local-part"),
    pytest.param("a@printer.local", id="mdns-local"),
    pytest.param("a@example.test", id="special-use-test"),
    pytest.param("a@hidden.onion", id="onion"),
    pytest.param("a@intranet", id="no-dot"),
    pytest.param("Ada <ada@example.com>", id="display-name"),
]
UNPRINTABLE = [
    pytest.param("Ada\r\nBcc: victim@example.com", id="cr-lf"),
    pytest.param("Ada\nLovelace", id="lf"),
    pytest.param("Ada\tLovelace", id="tab"),
    pytest.param("Ada\x07", id="bell"),  # NUL never gets this far: the JSON reader's 400
    pytest.param("Ada\x1b[31m", id="escape"),
    pytest.param("Ada\u202eecalevol", id="bidi-override"),
    pytest.param("Ada\u2028Lovelace", id="line-separator"),
]


@pytest.mark.parametrize("email", UNDELIVERABLE)
def test_the_api_refuses_an_address_no_mail_can_be_delivered_to(loopgate, world, email):
    body = registration_body(attendee=attendee(email=email))
    assert_refused(loopgate, world, Call("POST", REGISTER, json=body), 422, "attendee.email")


@pytest.mark.parametrize("name", UNPRINTABLE)
def test_the_api_refuses_a_name_with_line_breaks_or_control_characters(loopgate, world, name):
    body = registration_body(attendee=attendee(name=name))
    assert_refused(loopgate, world, Call("POST", REGISTER, json=body), 422, "attendee.name")


def test_names_and_addresses_from_anywhere_are_welcome(loopgate, world):
    for name, email, kept_as in [
        ("陳大文", "tai.man@example.hk", "tai.man@example.hk"),
        ("  Zoë O'Brien-Łukasiewicz  ", "Zoe+showcase@Example.COM", "Zoe+showcase@example.com"),
        ("محمد", "mohammed@例子.香港", "mohammed@例子.香港"),
    ]:
        registration = loopgate.registered(
            world.ids["event"], world.ids["ticket_type"], name=name, email=email
        )
        assert registration["attendee"] == {"name": name.strip(), "email": kept_as}


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("email", "a%evil.com@example.com", "請輸入電郵地址，例如 name@example.com。"),
        ("name", "Ada\tLovelace", "請輸入姓名（最多 200 個字元）。"),
    ],
)
def test_the_form_shows_the_refusal_beside_the_field_in_the_attendees_language(
    loopgate, world, field, value, message
):
    form = {**registration_form(world, "Ada Lovelace", "ada@example.com"), field: value}

    page = loopgate.post(
        f"/events/{world.ids['event']}", data=form, headers={"Accept-Language": "zh-HK"}
    )

    assert page.status_code == 422
    assert f'<p class="field-error" id="{field}-error">{message}</p>' in page.text
