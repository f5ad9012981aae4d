"""Check-in's refusals in the caller's language: the rules mark their messages (N_), the app
answers a domain error's problem+json detail from the catalogue of the request's language,
and every text check-in extracts is compiled for Hong Kong and Shenzhen."""

import uuid
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from services.checkin.app import create_app
from shared.auth import store_token
from tests.unit.domain_fixtures import NORTHWIND

pytest_plugins = ["tests.unit.domain_fixtures"]

TRANSLATIONS = Path(__file__).parents[2] / "services" / "checkin" / "translations"
TOKEN = "organiser-token-for-translations"


@pytest.mark.parametrize("locale", ["zh_Hant_HK", "zh_Hans_CN"])
def test_every_text_check_in_extracts_has_a_compiled_translation(locale):
    with open(TRANSLATIONS / "messages.pot", "rb") as handle:
        extracted = {message.id for message in read_po(handle) if message.id}
    with open(TRANSLATIONS / locale / "LC_MESSAGES" / "messages.mo", "rb") as handle:
        compiled = {message.id: message.string for message in read_mo(handle) if message.id}

    assert sorted(text for text in extracted if not compiled.get(text)) == []


@pytest.fixture
def api(checkin_runtime):
    """The check-in app's test client, and an organiser token of NORTHWIND's."""
    with checkin_runtime.session_factory() as session:
        store_token(session, checkin_runtime.tables.tokens, TOKEN, NORTHWIND)
        session.commit()
    return create_app(runtime=checkin_runtime).test_client()


def refusal(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == "application/problem+json"
    return response.get_json()


def as_organiser(language: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    return {**headers, "Accept-Language": language} if language else headers


def test_a_refusal_is_explained_in_the_callers_language(api, door):
    event = door.event()
    main_entrance = f"/api/checkin/lists/{door.default_list(event)}"
    no_list = f"/api/checkin/lists/{uuid.uuid4()}"

    in_hong_kong = refusal(api.delete(main_entrance, headers=as_organiser("zh-HK,zh;q=0.9")), 409)
    in_shenzhen = refusal(
        api.patch(no_list, json={"name": "X"}, headers=as_organiser("zh-CN")), 404
    )
    in_english = refusal(api.patch(no_list, json={"name": "X"}, headers=as_organiser()), 404)

    assert in_hong_kong["detail"] == "活動的預設入場名單不可刪除，請改為收窄其範圍。"
    assert in_hong_kong["type"] == "urn:loopgate:problem:conflict"
    assert in_shenzhen["detail"] == "找不到该入场名单。"
    assert in_english["detail"] == "No such check-in list."


def test_a_door_device_pairing_with_a_wrong_code_reads_why_in_its_language(api):
    redeem = "/api/checkin/pairing-codes/redeem?lang=zh_Hant_HK"

    answer = refusal(api.post(redeem, json={"code": "ABCD-EFGH"}), 404)

    assert answer["detail"] == "此配對碼不存在、已使用或已過期，請索取新的配對碼。"
