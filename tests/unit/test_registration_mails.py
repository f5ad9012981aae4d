"""The attendees' status mails of registration: which change writes which mail (the rules,
plain Python), what each says in the attendee's language, and, through the service's domain
functions on a real migrated SQLite database, that each is written in the transaction of its
change, goes out once from the mail relay with a manage link that opens the registration,
and is reached by an erasure. No Flask, no broker; the relay writes to a mailbox folder."""

from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select, update

from services.registration import service
from services.registration.mail import status_mails
from services.registration.mail.attendee_mail import AttendeeLetter, attendee_mail_text
from services.registration.mail.relay import MailRelay
from services.registration.models import Registration, mail_outbox
from shared.errors import NotFound
from shared.mail.delivery import MailboxFolder
from tests.unit.domain_fixtures import NORTHWIND

pytest_plugins = ["tests.unit.domain_fixtures"]


# --- which change owes which mail --------------------------------------------------------


@pytest.mark.parametrize(
    ("previous", "status", "reason", "kind"),
    [
        (None, "confirmed", None, None),  # ticketing mails the ticket
        (None, "pending_approval", None, status_mails.RECEIVED),
        (None, "waitlisted", None, status_mails.WAITLISTED_MAIL),
        ("pending_approval", "confirmed", None, status_mails.APPROVED),
        ("pending_approval", "waitlisted", None, status_mails.WAITLISTED_MAIL),
        ("pending_approval", "rejected", "rejected", status_mails.REJECTED_MAIL),
        ("waitlisted", "offered", None, status_mails.PLACE_OFFERED),
        ("waitlisted", "confirmed", None, status_mails.PLACE_GIVEN),
        ("offered", "confirmed", None, status_mails.PLACE_CLAIMED),
        ("offered", "offer_expired", "offer_expired", status_mails.OFFER_LAPSED),
        ("confirmed", "cancelled", "cancelled_by_attendee", status_mails.CANCELLED_BY_ATTENDEE),
        ("waitlisted", "cancelled", "cancelled_by_organiser", status_mails.CANCELLED_BY_ORGANISER),
        ("confirmed", "cancelled", "event_cancelled", status_mails.EVENT_CANCELLED),
        ("confirmed", "confirmed", None, None),
    ],
)
def test_each_change_of_status_owes_its_own_mail(previous, status, reason, kind):
    assert status_mails.mail_for_change(previous, status, reason) == kind


def test_a_mail_whose_news_is_out_of_date_when_sent_is_not_sent():
    now = datetime(2030, 6, 14, 10, tzinfo=UTC)
    waitlisted, offered = status_mails.WAITLISTED_MAIL, status_mails.PLACE_OFFERED
    assert status_mails.still_true(waitlisted, "waitlisted", None, now)
    assert not status_mails.still_true(waitlisted, "offered", now + timedelta(hours=1), now)
    assert status_mails.still_true(offered, "offered", now + timedelta(minutes=1), now)
    assert not status_mails.still_true(offered, "offered", now, now)  # lapsed meanwhile
    assert not status_mails.still_true(offered, "confirmed", None, now)  # claimed meanwhile
    assert not status_mails.still_true(status_mails.APPROVED, "cancelled", None, now)


# --- what they say ------------------------------------------------------------------------


def letter(**fields) -> AttendeeLetter:
    return AttendeeLetter(
        **{
            "recipient": "ada@example.hk",
            "language": "zh_Hant_HK",
            "event_title": "港灣光影",
            "event_starts_at": datetime(2030, 6, 20, 11, tzinfo=UTC),
            "event_timezone": "Asia/Hong_Kong",
            "venue": "西九文化區",
            "ticket_type_name": "普通門票",
            "manage_url": "https://loopgate.example/registrations/r1?token=t&lang=zh_Hant_HK",
            **fields,
        }
    )


def test_the_offer_says_the_deadline_in_the_events_time_zone_in_the_attendees_language():
    text = attendee_mail_text(
        status_mails.PLACE_OFFERED,
        letter(offer_expires_at=datetime(2030, 6, 14, 10, 5, tzinfo=UTC)),
    )

    assert text.lang == "zh-Hant-HK"
    assert text.subject == "有名額留給你：港灣光影"
    assert "2030年6月14日" in text.body and "6:05" in text.body  # 18:05 in Hong Kong
    # Hong Kong keeps no summer time: the zone is named as it is that day.
    assert "(香港標準時間)" in text.body and "夏令" not in text.body
    assert text.button == "確認領取名額"
    assert text.link_url.endswith("lang=zh_Hant_HK")
    assert ("場地", "西九文化區") in text.facts
    assert "港灣光影" in text.why


def test_the_waitlist_mail_gives_the_position_and_the_time_to_claim_an_offer():
    text = attendee_mail_text(
        status_mails.WAITLISTED_MAIL,
        letter(language="en", waitlist_position=3, waitlist_claim_minutes=90),
    )

    assert text.heading == "You are number 3 on the waiting list for 港灣光影."
    assert "90 minutes to claim it" in text.body


def test_a_refusal_carries_the_organisers_reason():
    text = attendee_mail_text(
        status_mails.REJECTED_MAIL, letter(language="zh_Hans_CN", rejection_reason="名额已满")
    )

    assert text.subject == "报名未获批准：港灣光影"
    assert text.more == ("主办方留言：名额已满",)


def test_without_the_token_at_hand_a_mail_says_where_the_link_is_instead_of_giving_one():
    text = attendee_mail_text(
        status_mails.CANCELLED_BY_ATTENDEE, letter(language="en", manage_url=None)
    )

    assert text.link_url is None
    assert "open the private link you were given when you registered" in text.open_link


# --- written with the change, sent once by the relay ------------------------------------


def mails(desk) -> list:
    with desk.runtime.session_factory() as session:
        return list(session.execute(select(mail_outbox).order_by(mail_outbox.c.created_at)))


def relay(desk, tmp_path) -> MailboxFolder:
    folder = MailboxFolder(tmp_path / "mailbox")
    MailRelay(desk.runtime, sender=folder).send_due()
    return folder


def delivered(folder: MailboxFolder) -> list:
    return [
        BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        for path in sorted(folder.path.glob("*.eml"))
    ]


def test_a_place_taken_at_once_writes_no_mail_of_registrations(desk):
    event, ticket_type = desk.published_event(quota=5)

    desk.registered(event, ticket_type)

    assert mails(desk) == []


def test_a_cancellation_writes_its_mail_and_the_next_attendees_offer_in_its_own_transaction(
    desk, tmp_path
):
    event, ticket_type = desk.published_event(quota=1, waitlist_claim_minutes=30)
    ada = desk.registered(event, ticket_type, name="Ada Lovelace")
    grace = desk.registered(event, ticket_type, name="Grace Hopper")
    assert [(m.kind, m.recipient) for m in mails(desk)] == [
        (status_mails.WAITLISTED_MAIL, "grace@example.com")
    ]

    with pytest.raises(NotFound):  # a refused change writes nothing
        desk.cancel(ada, manage_token="guess")
    assert len(mails(desk)) == 1
    desk.cancel(ada)

    assert [(m.kind, m.recipient) for m in mails(desk)][1:] == [
        (status_mails.CANCELLED_BY_ATTENDEE, "ada@example.com"),
        (status_mails.PLACE_OFFERED, "grace@example.com"),
    ]
    folder = relay(desk, tmp_path)
    # Grace's waitlist mail, not sent before her offer, is out of date: skipped.
    assert [m.status for m in mails(desk)] == ["skipped", "sent", "sent"]
    offer = next(m for m in delivered(folder) if m["To"] == "grace@example.com")
    assert offer["Subject"] == "A place is offered to you: Demo Night"
    link = next(
        word for word in offer.get_body(("plain",)).get_content().split() if "token=" in word
    )
    token = parse_qs(urlsplit(link).query)["token"][0]
    with desk.runtime.session_factory() as session:
        assert service.attendee_registration(session, grace.id, token).id == grace.id
    assert relay(desk, tmp_path).path == folder.path and len(delivered(folder)) == 2  # once


def test_approval_and_refusal_write_their_mails_and_the_reason_reaches_the_attendee(desk, tmp_path):
    event, ticket_type = desk.published_event(quota=1)
    service.update_ticket_type(desk.uow(), NORTHWIND, ticket_type.id, {"requires_approval": True})
    ada = desk.registered(event, ticket_type, name="Ada Lovelace")
    grace = desk.registered(event, ticket_type, name="Grace Hopper")
    alan = desk.registered(event, ticket_type, name="Alan Turing")

    service.approve(desk.uow(), NORTHWIND, ada.id)
    service.reject(desk.uow(), NORTHWIND, grace.id, reason="Students only, sorry.")
    service.approve(desk.uow(), NORTHWIND, alan.id)  # no place left: waitlisted

    assert [m.kind for m in mails(desk)] == [
        *[status_mails.RECEIVED] * 3,
        status_mails.APPROVED,
        status_mails.REJECTED_MAIL,
        status_mails.WAITLISTED_MAIL,
    ]
    sent = {m["To"]: m for m in delivered(relay(desk, tmp_path))}
    refusal = sent["grace@example.com"].get_body(("plain",)).get_content()
    assert "The organiser wrote: Students only, sorry." in refusal
    waiting = sent["alan@example.com"].get_body(("plain",)).get_content()
    assert "You are number 1 on the waiting list for Demo Night." in waiting


def test_an_erasure_reaches_the_registrations_mail_and_its_sealed_token(desk, tmp_path):
    event, ticket_type = desk.published_event(quota=1)
    desk.registered(event, ticket_type, name="Ada Lovelace")
    grace = desk.registered(event, ticket_type, name="Grace Hopper")
    folder = relay(desk, tmp_path)
    assert len(delivered(folder)) == 1
    service.cancel_for_attendee(desk.uow(), NORTHWIND, grace.id)  # its mail not sent yet

    service.erase_attendee(desk.uow(), NORTHWIND, grace.id)

    assert [(m.status, m.recipient) for m in mails(desk)] == [("erasing", ""), ("skipped", "")]
    assert desk.current(grace).sealed_manage_token is None
    MailRelay(desk.runtime, sender=folder).run_once()
    assert delivered(folder) == []
    assert [m.status for m in mails(desk)] == ["erased", "skipped"]


def test_a_registration_made_before_tokens_were_sealed_is_mailed_without_its_link(desk, tmp_path):
    event, ticket_type = desk.published_event(quota=1)
    desk.registered(event, ticket_type, name="Ada Lovelace")
    grace = desk.registered(event, ticket_type, name="Grace Hopper")
    with desk.runtime.session_factory() as session:
        session.execute(update(Registration).values(sealed_manage_token=None))
        session.commit()

    (mail,) = delivered(relay(desk, tmp_path))

    body = mail.get_body(("plain",)).get_content()
    assert mail["To"] == "grace@example.com" and "token=" not in body
    assert "open the private link you were given when you registered" in body
    assert desk.current(grace).status == "waitlisted"


def test_the_erasure_after_the_retention_period_reaches_the_mail_too(desk, tmp_path):
    event, ticket_type = desk.published_event(quota=1, retention_days=0)
    desk.registered(event, ticket_type, name="Ada Lovelace")
    grace = desk.registered(event, ticket_type, name="Grace Hopper")

    assert service.erase_after_retention(desk.uow(), now=event.ends_at) == [event.id]

    assert [(m.status, m.recipient) for m in mails(desk)] == [("skipped", "")]
    assert desk.current(grace).sealed_manage_token is None
    assert delivered(relay(desk, tmp_path)) == []
