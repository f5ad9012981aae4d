"""The organiser's texts in the attendee's language on everything ticketing makes (issue 16):
the ticket mail's subject and body, the ticket page and the .ics show the event's title,
venue and ticket type name in the ticket's language when the organiser gave them, and the
texts they wrote first when not."""

import uuid
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser

import pytest

from services.ticketing import handlers
from services.ticketing.app import create_app
from services.ticketing.mail.relay import MailRelay
from services.ticketing.ticket_secrets import url_key
from tests.unit.domain_fixtures import NORTHWIND, consume
from tests.unit.test_ticket_mail import calendar_properties, parts
from tests.unit.ticketing_fixtures import SHOW_ENDS, SHOW_STARTS, ShowAtTheBoxOffice

pytest_plugins = ["tests.unit.domain_fixtures", "tests.unit.ticketing_fixtures"]

NOW = datetime(2030, 5, 20, 9, 0, tzinfo=UTC)
CHINESE = {"title": "港燈夜", "venue": "落馬洲河套區 A 館"}
CHINESE_TICKET_TYPE = "普通門票"


def a_show(runtime, translations: dict, ticket_type_translations: dict) -> ShowAtTheBoxOffice:
    show = ShowAtTheBoxOffice(
        uuid.uuid4(), NORTHWIND.organisation_id, "Harbour Lights", uuid.uuid4()
    )
    consume(
        runtime,
        handlers.on_event_changed,
        "event.published",
        {
            "event_id": show.id,
            "organisation_id": show.organisation_id,
            "title": show.title,
            "starts_at": SHOW_STARTS,
            "ends_at": SHOW_ENDS,
            "timezone": "Asia/Hong_Kong",
            "venue": "Hall A",
            "translations": translations,
            "early_entry_minutes": 60,
            "status": "published",
            "ticket_types": [
                {
                    "id": show.ticket_type_id,
                    "name": "General",
                    "translations": ticket_type_translations,
                }
            ],
        },
    )
    return show


def sent_mail(runtime):
    MailRelay(runtime).send_due(NOW)
    (file,) = (runtime.settings.data_dir / "mailbox").iterdir()
    return BytesParser(policy=policy.default).parsebytes(file.read_bytes())


def ticket_page(runtime, ticket, lang: str) -> str:
    client = create_app(runtime=runtime).test_client()
    key = url_key(runtime.secret_box, ticket.id)
    response = client.get(f"/api/ticketing/pages/tickets/{ticket.id}?key={key}&lang={lang}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_a_traditional_chinese_attendee_gets_the_organisers_chinese_texts(
    box_office, ticketing_runtime
):
    show = a_show(
        ticketing_runtime, {"zh_Hant_HK": CHINESE}, {"zh_Hant_HK": {"name": CHINESE_TICKET_TYPE}}
    )
    ticket = box_office.ticket_of(box_office.confirm(show, locale="zh_Hant_HK"))

    message = sent_mail(ticketing_runtime)
    assert message["Subject"] == "你的門票：港燈夜"
    plain = parts(message)["plain"].get_content()
    html = parts(message)["html"].get_content()
    for body in (plain, html):
        assert "港燈夜" in body
        assert CHINESE["venue"] in body
        assert CHINESE_TICKET_TYPE in body
        assert "Harbour Lights" not in body
        assert "Hall A" not in body
    calendar = calendar_properties(parts(message)["calendar"].get_content().encode())
    assert calendar["SUMMARY"] == "港燈夜"
    assert calendar["LOCATION"] == CHINESE["venue"]

    page = ticket_page(ticketing_runtime, ticket, "zh_Hant_HK")
    assert "<h1>港燈夜</h1>" in page
    assert CHINESE["venue"] in page
    assert CHINESE_TICKET_TYPE in page
    # The same ticket read in English shows the texts the organiser wrote first.
    english = ticket_page(ticketing_runtime, ticket, "en")
    assert "<h1>Harbour Lights</h1>" in english
    assert "Hall A" in english
    assert "General" in english


def test_without_the_attendees_language_the_texts_written_first_are_shown(
    box_office, ticketing_runtime
):
    # Texts in Simplified Chinese only, and a ticket type named in no other language.
    show = a_show(ticketing_runtime, {"zh_Hans_CN": {"title": "港灯夜"}}, {})
    ticket = box_office.ticket_of(box_office.confirm(show, locale="zh_Hant_HK"))

    message = sent_mail(ticketing_runtime)
    assert message["Subject"] == "你的門票：Harbour Lights"
    plain = parts(message)["plain"].get_content()
    assert "Hall A" in plain
    assert "General" in plain
    calendar = calendar_properties(parts(message)["calendar"].get_content().encode())
    assert calendar["SUMMARY"] == "Harbour Lights"
    assert calendar["LOCATION"] == "Hall A"
    assert "<h1>Harbour Lights</h1>" in ticket_page(ticketing_runtime, ticket, "zh_Hant_HK")


@pytest.mark.parametrize("locale", [None, "en"])
def test_an_english_attendee_gets_the_english_texts(box_office, ticketing_runtime, locale):
    show = a_show(
        ticketing_runtime, {"zh_Hant_HK": CHINESE}, {"zh_Hant_HK": {"name": CHINESE_TICKET_TYPE}}
    )
    box_office.confirm(show, locale=locale)

    message = sent_mail(ticketing_runtime)
    assert message["Subject"] == "Your ticket: Harbour Lights"
    plain = parts(message)["plain"].get_content()
    assert "Hall A" in plain
    assert "General" in plain
    assert "港燈夜" not in plain
    calendar = calendar_properties(parts(message)["calendar"].get_content().encode())
    assert (calendar["SUMMARY"], calendar["LOCATION"]) == ("Harbour Lights", "Hall A")


def test_an_event_announced_without_translations_keeps_none(box_office, ticketing_runtime):
    """An event from a producer that predates the texts by language."""
    show = box_office.show(title="Harbour Lights")
    box_office.confirm(show, locale="zh_Hant_HK")

    assert sent_mail(ticketing_runtime)["Subject"] == "你的門票：Harbour Lights"
