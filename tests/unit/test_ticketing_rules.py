"""Ticketing's rules (DESIGN.md "Ticket tokens", issue #6): one ticket per confirmed
registration, keys that rotate without breaking issued tickets and retire only when an
organiser says so, reissue for a lost phone, and the QR images kept per ticket."""

import io

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from services.ticketing import service as ticketing
from services.ticketing.models import Ticket, TicketImage
from shared.errors import Conflict, NotFound
from shared.tokens import InvalidTicketToken, verify_ticket
from tests.unit.domain_fixtures import NORTHWIND, SOUTHWIND

pytest_plugins = ["tests.unit.domain_fixtures", "tests.unit.ticketing_fixtures"]


def envelopes_data(box_office, event_type: str) -> list[dict]:
    return [envelope["data"] for envelope in box_office.published(event_type)]


# --- issuing ------------------------------------------------------------------------------


def test_a_confirmed_registration_gets_one_valid_ticket_whatever_the_bus_redelivers(box_office):
    show = box_office.show()
    confirmation = box_office.confirm(show)

    box_office.deliver(confirmation)  # the same registration.confirmed again
    box_office.deliver(confirmation)

    tickets = box_office.tickets_of(confirmation)
    assert [ticket.status for ticket in tickets] == ["valid"]
    assert len(box_office.published("ticket.issued")) == 1
    assert len(box_office.mail()) == 1


def test_the_ticket_token_verifies_with_the_published_keys_and_carries_its_claims(box_office):
    show = box_office.show()
    ticket = box_office.ticket_of(box_office.confirm(show))

    claims = verify_ticket(ticket.payload, box_office.public_keys())

    assert str(claims.ticket_id) == ticket.id
    assert claims.event_id == show.id
    assert claims.ticket_type_id == show.ticket_type_id
    assert claims.key_id == ticket.key_id


def test_each_issued_ticket_queues_one_mail_to_its_attendee(box_office):
    show = box_office.show()
    first = box_office.confirm(show)
    second = box_office.confirm(show)

    mail = box_office.mail()

    assert sorted(m.recipient for m in mail) == sorted(
        c.data["attendee"]["email"] for c in (first, second)
    )
    assert {m.status for m in mail} == {"pending"}


def test_the_database_refuses_a_second_valid_ticket_for_one_registration(
    box_office, ticketing_runtime
):
    show = box_office.show()
    ticket = box_office.ticket_of(box_office.confirm(show))

    with ticketing_runtime.session_factory() as session:
        twin = Ticket(
            **{
                column.key: getattr(ticket, column.key)
                for column in Ticket.__table__.columns
                if column.key != "id"
            },
            id="00000000-0000-4000-8000-000000000000",
        )
        session.add(twin)
        with pytest.raises(IntegrityError):
            session.commit()


# --- reissue ------------------------------------------------------------------------------


def test_a_reissued_ticket_has_a_new_id_and_token_and_the_old_one_is_revoked(box_office):
    show = box_office.show()
    confirmation = box_office.confirm(show)
    lost = box_office.ticket_of(confirmation)

    replacement = box_office.reissue(lost)

    assert replacement.id != lost.id
    assert replacement.payload != lost.payload
    assert replacement.qr_key_sha256 != lost.qr_key_sha256
    history = box_office.tickets_of(confirmation)
    assert [(t.id, t.status, t.revoked_reason) for t in history] == [
        (lost.id, "revoked", "reissued"),
        (replacement.id, "valid", None),
    ]
    # The attendee's link now opens the new ticket.
    assert box_office.ticket_of(confirmation).id == replacement.id
    assert verify_ticket(replacement.payload, box_office.public_keys()).ticket_id.hex == (
        replacement.id.replace("-", "")
    )


def test_a_reissue_tells_check_in_and_mails_the_new_ticket(box_office):
    show = box_office.show()
    lost = box_office.ticket_of(box_office.confirm(show))

    replacement = box_office.reissue(lost)

    revoked = envelopes_data(box_office, "ticket.revoked")
    issued = envelopes_data(box_office, "ticket.issued")
    assert [(r["ticket_id"], r["reason"]) for r in revoked] == [(lost.id, "reissued")]
    assert [i["ticket_id"] for i in issued] == [lost.id, replacement.id]
    assert issued[1]["registration_id"] == lost.registration_id
    assert [m.ticket_id for m in box_office.mail()] == [lost.id, replacement.id]


def test_reissuing_a_revoked_ticket_is_a_conflict_so_a_double_click_reissues_once(box_office):
    show = box_office.show()
    confirmation = box_office.confirm(show)
    lost = box_office.ticket_of(confirmation)
    box_office.reissue(lost)

    with pytest.raises(Conflict):
        box_office.reissue(lost)
    assert len(box_office.tickets_of(confirmation)) == 2


def test_another_organisation_cannot_reissue_a_ticket_and_learns_nothing(box_office):
    show = box_office.show(organisation_id=NORTHWIND.organisation_id)
    confirmation = box_office.confirm(show)
    ticket = box_office.ticket_of(confirmation)

    with pytest.raises(NotFound) as refused:
        box_office.reissue(ticket, organiser=SOUTHWIND)
    with pytest.raises(NotFound) as missing:
        ticketing.reissue_ticket(
            box_office.runtime.unit_of_work(), SOUTHWIND, "00000000-0000-4000-8000-000000000000"
        )

    assert [t.status for t in box_office.tickets_of(confirmation)] == ["valid"]
    assert str(refused.value) == str(missing.value) == "No such ticket."


def test_redelivering_the_confirmation_after_a_reissue_issues_nothing_more(box_office):
    show = box_office.show()
    confirmation = box_office.confirm(show)
    box_office.reissue(box_office.ticket_of(confirmation))

    box_office.deliver(confirmation)

    assert [t.status for t in box_office.tickets_of(confirmation)] == ["revoked", "valid"]


def test_cancelling_after_a_reissue_revokes_the_current_ticket(box_office):
    show = box_office.show()
    confirmation = box_office.confirm(show)
    replacement = box_office.reissue(box_office.ticket_of(confirmation))

    box_office.cancel(confirmation)

    current = box_office.ticket_of(confirmation)
    assert (current.id, current.status, current.revoked_reason) == (
        replacement.id,
        "revoked",
        "cancelled",
    )
    reasons = [r["reason"] for r in envelopes_data(box_office, "ticket.revoked")]
    assert reasons == ["reissued", "cancelled"]


# --- erasure ------------------------------------------------------------------------------


def test_erasing_an_attendee_blanks_their_tickets_and_stops_their_unsent_mail(box_office):
    show = box_office.show()
    erased = box_office.confirm(show, name="Ada Lovelace")
    kept = box_office.confirm(show, name="Grace Hopper")
    box_office.reissue(box_office.ticket_of(erased))

    box_office.erase(erased)

    tickets = box_office.tickets_of(erased)
    assert {(t.attendee_name, t.attendee_email) for t in tickets} == {("[erased]", "")}
    assert tickets[-1].status == "valid", "the attendee may still come in"
    erased_ids = {t.id for t in tickets}
    mail = {m.ticket_id: m for m in box_office.mail()}
    assert {(mail[i].recipient, mail[i].status) for i in erased_ids} == {("", "skipped")}
    assert box_office.ticket_of(kept).attendee_name == "Grace Hopper"
    assert mail[box_office.ticket_of(kept).id].status == "pending"


def test_an_erased_attendees_reissued_ticket_is_nameless_and_mailed_to_nobody(box_office):
    show = box_office.show()
    confirmation = box_office.confirm(show)
    box_office.erase(confirmation)

    replacement = box_office.reissue(box_office.ticket_of(confirmation))

    assert (replacement.attendee_name, replacement.attendee_email) == ("[erased]", "")
    assert replacement.id not in {m.ticket_id for m in box_office.mail()}
    issued = envelopes_data(box_office, "ticket.issued")[-1]
    assert (issued["attendee_name"], issued["attendee_email"]) == ("[erased]", None)


def test_a_confirmation_arriving_after_the_erasure_issues_a_nameless_ticket(box_office):
    show = box_office.show()
    confirmation = box_office.confirmation(show)

    box_office.erase(confirmation)  # seen first: a retried or parallel consumer
    box_office.deliver(confirmation)

    ticket = box_office.ticket_of(confirmation)
    assert (ticket.status, ticket.attendee_name, ticket.attendee_email) == (
        "valid",
        "[erased]",
        "",
    )
    assert box_office.mail() == []


# --- signing keys -------------------------------------------------------------------------


def test_after_a_rotation_new_tickets_use_the_new_key_and_old_ones_still_verify(box_office):
    show = box_office.show()
    before = box_office.ticket_of(box_office.confirm(show))

    new_key = box_office.rotate(show)
    after = box_office.ticket_of(box_office.confirm(show))

    assert after.key_id == new_key.key_id != before.key_id
    keys = box_office.public_keys()
    assert set(keys) == {before.key_id, new_key.key_id}
    assert verify_ticket(before.payload, keys).key_id == before.key_id
    assert verify_ticket(after.payload, keys).key_id == new_key.key_id
    issued = envelopes_data(box_office, "ticket.issued")
    assert issued[-1]["signing_key"]["key_id"] == new_key.key_id  # how check-in learns it


def test_a_retired_key_stops_verifying_and_its_valid_tickets_are_reissued(box_office):
    show = box_office.show()
    first = box_office.confirm(show)
    cancelled = box_office.confirm(show)
    old_ticket = box_office.ticket_of(first)
    old_key = old_ticket.key_id
    box_office.cancel(cancelled)
    current_key = box_office.rotate(show)

    retired = box_office.retire(show, old_key)

    assert retired.key.retired_at is not None
    assert retired.reissued_tickets == 1  # the cancelled one stays revoked, not reissued
    assert old_key not in box_office.public_keys()
    with pytest.raises(InvalidTicketToken):
        verify_ticket(old_ticket.payload, box_office.public_keys())
    replacement = box_office.ticket_of(first)
    assert replacement.id != old_ticket.id
    assert replacement.key_id == current_key.key_id
    verify_ticket(replacement.payload, box_office.public_keys())
    assert box_office.tickets_of(first)[0].revoked_reason == "key_retired"
    # Check-in learns it all from the existing events.
    revoked = envelopes_data(box_office, "ticket.revoked")
    assert (revoked[-1]["ticket_id"], revoked[-1]["reason"]) == (old_ticket.id, "key_retired")
    issued = envelopes_data(box_office, "ticket.issued")[-1]
    assert (issued["ticket_id"], issued["signing_key"]["key_id"]) == (
        replacement.id,
        current_key.key_id,
    )


def test_retiring_the_only_key_makes_a_new_one_for_the_reissued_and_later_tickets(box_office):
    show = box_office.show()
    confirmation = box_office.confirm(show)
    only_key = box_office.ticket_of(confirmation).key_id

    box_office.retire(show, only_key)
    later = box_office.ticket_of(box_office.confirm(show))

    reissued = box_office.ticket_of(confirmation)
    assert reissued.key_id == later.key_id != only_key
    assert set(box_office.public_keys()) == {later.key_id}


def test_a_key_is_retired_once_and_only_by_its_events_organiser(box_office):
    show = box_office.show()
    key_id = box_office.ticket_of(box_office.confirm(show)).key_id
    other_show = box_office.show()

    with pytest.raises(NotFound):
        box_office.retire(show, key_id, organiser=SOUTHWIND)
    with pytest.raises(NotFound):
        box_office.retire(other_show, key_id)  # a key of another event
    with pytest.raises(NotFound):
        box_office.rotate(show, organiser=SOUTHWIND)
    box_office.retire(show, key_id)
    with pytest.raises(Conflict):
        box_office.retire(show, key_id)


def test_the_organiser_sees_every_key_of_an_event_retired_ones_included(box_office):
    show = box_office.show()
    first = box_office.ticket_of(box_office.confirm(show)).key_id
    second = box_office.rotate(show).key_id
    box_office.retire(show, first)

    with box_office.runtime.session_factory() as session:
        keys = ticketing.event_signing_keys(session, NORTHWIND, str(show.id))
        with pytest.raises(NotFound):
            ticketing.event_signing_keys(session, SOUTHWIND, str(show.id))

    assert [(key.key_id, key.retired_at is not None) for key in keys] == [
        (first, True),
        (second, False),
    ]


# --- QR images ----------------------------------------------------------------------------


def test_a_tickets_qr_images_are_rendered_once_and_then_read_from_storage(
    box_office, ticketing_runtime
):
    ticket = box_office.ticket_of(box_office.confirm(box_office.show()))

    first = ticketing.ticket_images(ticketing_runtime.unit_of_work(), ticket)
    decoded = zxingcpp.read_barcodes(
        Image.open(io.BytesIO(first.png)).convert("RGB"), formats=zxingcpp.BarcodeFormat.QRCode
    )
    assert [barcode.text for barcode in decoded] == [ticket.payload]
    # Mark what is stored: a later view returns the mark, so it rendered nothing.
    with ticketing_runtime.session_factory() as session:
        session.execute(
            update(TicketImage).where(TicketImage.ticket_id == ticket.id).values(png=b"stored")
        )
        session.commit()

    again = ticketing.ticket_images(ticketing_runtime.unit_of_work(), ticket)

    assert again.png == b"stored"
    assert again.svg == first.svg
