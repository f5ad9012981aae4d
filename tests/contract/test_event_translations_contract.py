"""event.published/updated carry the organiser's texts by language (issue 16): optional, so an
event of a producer that predates them still loads, with none, and its consumers show the
texts written first."""

import json
import uuid

import pytest

from shared.bus.events import ContractError, make_envelope, read_envelope
from tests.contract.test_event_contracts import sample_data


def old_event(event_type: str) -> dict:
    """The JSON an older producer sent: no translations, neither the event's nor its types'."""
    data = json.loads(json.dumps(make_envelope(event_type, sample_data(event_type), "x", None)))
    del data["data"]["translations"]
    for ticket_type in data["data"]["ticket_types"]:
        del ticket_type["translations"]
    return data


@pytest.mark.parametrize("event_type", ["event.published", "event.updated"])
def test_an_event_without_translations_still_loads_with_none(event_type):
    _, loaded = read_envelope(old_event(event_type))

    assert loaded["translations"] == {}
    assert [t["translations"] for t in loaded["ticket_types"]] == [{}]
    assert loaded["title"] == sample_data(event_type)["title"]


def test_a_producer_leaving_out_translations_sends_empty_ones():
    data = sample_data("event.published")
    del data["translations"]
    for ticket_type in data["ticket_types"]:
        del ticket_type["translations"]

    sent = make_envelope("event.published", data, "registration", None)["data"]

    assert sent["translations"] == {}
    assert sent["ticket_types"][0]["translations"] == {}


def test_the_texts_by_language_travel_as_they_were_sent():
    data = sample_data("event.published")
    sent = json.loads(json.dumps(make_envelope("event.published", data, "registration", None)))

    _, loaded = read_envelope(sent)

    assert loaded["translations"] == {"zh_Hant_HK": {"title": "示範日", "venue": "一號館"}}
    assert loaded["ticket_types"][0]["translations"] == {"zh_Hant_HK": {"name": "普通"}}


@pytest.mark.parametrize(
    "translations",
    [{"zh_Hant_HK": {"title": 5}}, {"zh_Hant_HK": "示範日"}, {"": {"title": "示範日"}}],
)
def test_a_consumer_refuses_texts_of_the_wrong_shape(translations):
    message = old_event("event.published")
    message["data"]["translations"] = translations
    with pytest.raises(ContractError, match="translations"):
        read_envelope(message)


def test_a_consumer_refuses_a_ticket_types_name_of_the_wrong_shape():
    message = old_event("event.published")
    message["data"]["ticket_types"] = [
        {"id": str(uuid.uuid4()), "name": "General", "translations": {"zh_Hant_HK": {"name": 1}}}
    ]
    with pytest.raises(ContractError, match="translations"):
        read_envelope(message)


def test_a_producer_may_not_use_an_empty_language():
    data = {**sample_data("event.published"), "translations": {"": {"title": "示範日"}}}
    with pytest.raises(ContractError, match="translations"):
        make_envelope("event.published", data, "registration", None)
