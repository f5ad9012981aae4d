"""The organiser's texts in the attendee's language, end to end in a whole embedded Loopgate
(issue 16): an event with a Traditional Chinese title and venue and a ticket type named in
Traditional Chinese; an attendee registers on the public page in zh_Hant_HK and reads the
organiser's Chinese texts on that page, in the ticket mail in the mailbox folder (subject,
body, .ics) and on the ticket page its link opens."""

from email import policy
from email.parser import BytesParser
from urllib.parse import parse_qs, urlsplit

from tests.support import wait_until

TITLE, VENUE, TICKET_TYPE = "港燈夜", "落馬洲河套區 A 館", "普通門票"


def a_chinese_showcase(embedded) -> tuple[str, str]:
    event_id = embedded.create_event(
        title="Harbour Lights",
        venue="Hall A",
        translations={"zh_Hant_HK": {"title": TITLE, "venue": VENUE}},
    )
    response = embedded.post(
        f"/api/registration/events/{event_id}/ticket-types",
        json={
            "name": "General",
            "quota": 10,
            "translations": {"zh_Hant_HK": {"name": TICKET_TYPE}},
        },
        headers=embedded.organiser,
    )
    assert response.status_code == 201, response.text
    assert response.json()["translations"] == {"zh_Hant_HK": {"name": TICKET_TYPE}}
    embedded.publish(event_id)
    return event_id, response.json()["id"]


def test_a_traditional_chinese_registrant_reads_the_organisers_chinese_texts(embedded):
    event_id, ticket_type_id = a_chinese_showcase(embedded)

    page = embedded.get(f"/events/{event_id}", params={"lang": "zh_Hant_HK"})
    assert page.status_code == 200
    assert TITLE in page.text and VENUE in page.text and TICKET_TYPE in page.text
    english = embedded.get(f"/events/{event_id}", params={"lang": "en"})
    assert "Hall A" in english.text and "General" in english.text and VENUE not in english.text

    form = {"name": "陳大文", "email": "tai.man@example.hk", "ticket_type_id": ticket_type_id}
    sent = embedded.post(
        f"/events/{event_id}?lang=zh_Hant_HK", data={**form, "key": "k1"}, allow_redirects=False
    )
    assert sent.status_code == 303, sent.text
    manage = embedded.get(sent.headers["Location"])
    assert TITLE in manage.text and VENUE in manage.text and TICKET_TYPE in manage.text
    registration_id = urlsplit(sent.headers["Location"]).path.rsplit("/", 1)[1]
    token = parse_qs(urlsplit(sent.headers["Location"]).query)["token"][0]
    embedded.wait_for_ticket({"id": registration_id, "manage_token": token})

    mailbox = embedded.system.settings.mailbox_dir
    (file,) = wait_until(lambda: sorted(mailbox.glob("*.eml")), 15, "the ticket mail")
    message = BytesParser(policy=policy.default).parsebytes(file.read_bytes())
    assert message["Subject"] == f"你的門票：{TITLE}"
    plain = message.get_body(("plain",)).get_content()
    assert TITLE in plain and VENUE in plain and TICKET_TYPE in plain
    assert "Harbour Lights" not in plain and "Hall A" not in plain
    (calendar,) = (
        part for part in message.iter_attachments() if part.get_filename() == "event.ics"
    )
    ics = calendar.get_content().replace("\r\n ", "")
    assert f"SUMMARY:{TITLE}" in ics and f"LOCATION:{VENUE}" in ics

    link = next(line for line in plain.splitlines() if "/pages/" in line)
    served = urlsplit(link)
    ticket_page = embedded.get(f"{served.path}?{served.query}")
    assert ticket_page.status_code == 200
    assert f"<h1>{TITLE}</h1>" in ticket_page.text
    assert VENUE in ticket_page.text and TICKET_TYPE in ticket_page.text


def test_the_door_gets_the_organisers_names_in_every_language_they_gave(embedded):
    """The scanner shows the event's title and the ticket type's name in its own language:
    check-in keeps them from event.published and hands them to the door at pairing and in
    the offline bundle (the page picks its language's, else the name as first written)."""
    event_id, ticket_type_id = a_chinese_showcase(embedded)
    lists = f"/api/checkin/events/{event_id}/lists"

    def known_at_check_in():
        answer = embedded.get(lists, headers=embedded.organiser)
        return answer.json() if answer.status_code == 200 else None

    (default_list,) = wait_until(known_at_check_in, 15, "the event at check-in")
    code = embedded.post(
        f"/api/checkin/lists/{default_list['id']}/pairing-codes", headers=embedded.organiser
    ).json()["code"]
    paired = embedded.post(
        "/api/checkin/pairing-codes/redeem", json={"code": code, "device_name": "East gate"}
    ).json()
    texts = {
        "title": {"zh_Hant_HK": TITLE},
        "ticket_types": {ticket_type_id: {"zh_Hant_HK": TICKET_TYPE}},
    }

    assert paired["event_title"] == "Harbour Lights" and paired["event_texts"] == texts
    bundle = embedded.get(
        f"/api/checkin/events/{event_id}/bundle",
        headers={"Authorization": f"Bearer {paired['token']}"},
    ).json()
    assert bundle["texts"] == texts
