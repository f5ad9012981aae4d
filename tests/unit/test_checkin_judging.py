"""The door's verdicts decided without a database (DESIGN.md, "Check-in verdicts"): every
verdict, and the order that makes staff see the one that matters most, judged by
services/checkin/judging.py on records built in memory."""

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from services.checkin.judging import DoorState, checked_code, judge_scans
from services.checkin.scan_records import (
    CheckedCode,
    DoorEvent,
    DoorKey,
    DoorList,
    DoorTicket,
    Entry,
    EntryWindow,
    ScanRequest,
    Verdict,
)
from shared.auth import ORGANISER, STAFF, Principal, token_digest
from shared.errors import NotFound
from shared.tokens import (
    PREFIX,
    TicketClaims,
    base45_decode,
    base45_encode,
    new_signing_key,
    read_ticket,
    sign_ticket,
)

NORTHWIND = Principal(ORGANISER, "northwind")
OPENS = datetime(2030, 6, 1, 16, 0, tzinfo=UTC)
CLOSES = datetime(2030, 6, 1, 22, 0, tzinfo=UTC)
DURING_THE_SHOW = datetime(2030, 6, 1, 19, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)

EVENT_ID, GENERAL, CREW = (str(uuid.uuid4()) for _ in range(3))
EVENT = DoorEvent(EVENT_ID, "northwind", "Asia/Hong_Kong", {GENERAL: "General", CREW: "Crew"})
MAIN = DoorList(str(uuid.uuid4()), EVENT_ID, "Main entrance", None, None, None, "once")
CREW_DOOR = MAIN._replace(id=str(uuid.uuid4()), name="Crew door", ticket_type_ids=[CREW])
OTHER_EVENT = DoorEvent(str(uuid.uuid4()), "northwind", "Asia/Hong_Kong", {})
OTHER_MAIN = MAIN._replace(id=str(uuid.uuid4()), event_id=OTHER_EVENT.id)


def a_ticket(**fields) -> DoorTicket:
    return DoorTicket(
        **{
            "id": str(uuid.uuid4()),
            "event_id": EVENT_ID,
            "registration_id": str(uuid.uuid4()),
            "ticket_type_id": GENERAL,
            "attendee_name": "Grace Hopper",
            "valid_from": OPENS,
            "valid_until": CLOSES,
            "revoked_at": None,
            "token_sha256": None,
            **fields,
        }
    )


def claims_of(ticket: DoorTicket, key_id: str = "0badc0de") -> TicketClaims:
    return TicketClaims(
        key_id=key_id,
        event_id=uuid.UUID(ticket.event_id),
        ticket_id=uuid.UUID(ticket.id),
        ticket_type_id=uuid.UUID(ticket.ticket_type_id),
        valid_from=ticket.valid_from,
        valid_until=ticket.valid_until,
    )


def entry(ticket: DoorTicket, at: datetime, on: DoorList = MAIN, **fields) -> Entry:
    return Entry(
        **{
            "id": str(uuid.uuid4()),
            "list_id": on.id,
            "ticket_id": ticket.id,
            "entry_key": "once",
            "scan_id": "earlier",
            "admitted_at": at,
            "gate": on.name,
            **fields,
        }
    )


def state(*tickets: DoorTicket, admitted: tuple[Entry, ...] = (), **fields) -> DoorState:
    """The door knowing `tickets` of EVENT (and OTHER_EVENT), both with their default list."""
    admissions: dict = {}
    for admission in admitted:
        admissions.setdefault((admission.list_id, admission.ticket_id), []).append(admission)
    return DoorState(
        **{
            "tickets": {ticket.id: ticket for ticket in tickets},
            "events": {EVENT.id: EVENT, OTHER_EVENT.id: OTHER_EVENT},
            "default_lists": {EVENT.id: MAIN, OTHER_EVENT.id: OTHER_MAIN},
            "lists": {CREW_DOOR.id: CREW_DOOR, OTHER_MAIN.id: OTHER_MAIN},
            "admissions": admissions,
            **fields,
        }
    )


def scan_of(ticket: DoorTicket, scan_id: str = "scan-1", **fields) -> tuple[ScanRequest, dict]:
    """A scan of the genuine code of `ticket`, and the code as the door checked it."""
    request = ScanRequest(scan_id, payload=f"LG1:{scan_id}", **fields)
    return request, {scan_id: CheckedCode(claims=claims_of(ticket))}


def judged(known: DoorState, *requests: ScanRequest, by=NORTHWIND, offline=False, at=None):
    return judge_scans(known, by, list(requests), at or DURING_THE_SHOW, offline)


def verdict_of(ticket: DoorTicket, by=NORTHWIND, admitted=(), **fields):
    request, codes = scan_of(ticket, **fields)
    known = state(ticket, admitted=admitted, codes=codes)
    return judged(known, request, by=by).judgements[request.scan_id]


# --- ok ------------------------------------------------------------------------------------


def test_a_valid_ticket_is_admitted_and_the_answer_shows_who_it_is_for():
    ticket = a_ticket()
    request, codes = scan_of(ticket)

    decided = judged(state(ticket, codes=codes), request)

    judgement = decided.judgements["scan-1"]
    assert judgement.verdict is Verdict.OK
    assert (judgement.ticket, judgement.ticket_type_name) == (ticket, "General")
    assert judgement.checkin_list == MAIN
    [admission] = decided.new_admissions
    assert (admission.ticket_id, admission.list_id, admission.scan_id) == (
        ticket.id,
        MAIN.id,
        "scan-1",
    )
    assert admission.admitted_at == DURING_THE_SHOW


def test_a_manual_check_in_names_the_ticket_by_its_id():
    ticket = a_ticket()
    request = ScanRequest("manual-1", ticket_id=ticket.id)

    assert judged(state(ticket), request).judgements["manual-1"].verdict is Verdict.OK


# --- already_checked_in --------------------------------------------------------------------


def test_a_second_entry_is_refused_with_the_admission_that_came_first():
    ticket = a_ticket()
    first = entry(ticket, at=DURING_THE_SHOW - 30 * MINUTE)

    judgement = verdict_of(ticket, admitted=(first,))

    assert judgement.verdict is Verdict.ALREADY_CHECKED_IN
    assert judgement.previous == first


# --- revoked -------------------------------------------------------------------------------


def test_a_revoked_ticket_is_refused():
    assert verdict_of(a_ticket(revoked_at=OPENS)).verdict is Verdict.REVOKED


# --- invalid and unknown keys: what a code is worth ----------------------------------------


@pytest.fixture
def signed():
    """A genuine code of a roster ticket, signed by the event's key, and what the door holds."""
    key_id, private_key = new_signing_key()
    ticket = a_ticket()
    payload = sign_ticket(claims_of(ticket, key_id), private_key)
    key = DoorKey(EVENT_ID, private_key.public_key(), retired=False)
    return payload, {key_id: key}, ticket


def worth(payload: str, keys: dict, ticket: DoorTicket) -> CheckedCode:
    return checked_code(payload, read_ticket(payload), keys, {ticket.id: ticket})


def with_bad_signature(payload: str) -> str:
    raw = bytearray(base45_decode(payload[len(PREFIX) :]))
    raw[-64:] = bytes(64)
    return PREFIX + base45_encode(bytes(raw))


def test_a_genuine_code_counts_with_its_claims(signed):
    payload, keys, ticket = signed

    assert worth(payload, keys, ticket).claims.ticket_id == uuid.UUID(ticket.id)


def test_an_unreadable_code_is_invalid():
    assert checked_code("LG1:???", None, {}, {}).refusal is Verdict.INVALID


def test_a_code_with_a_bad_signature_is_invalid(signed):
    payload, keys, ticket = signed

    assert worth(with_bad_signature(payload), keys, ticket).refusal is Verdict.INVALID


def test_the_very_token_ticketing_issued_is_known_by_its_digest_alone(signed):
    payload, keys, ticket = signed
    unverifiable = {key_id: replace(key, public_key=None) for key_id, key in keys.items()}
    issued = ticket._replace(token_sha256=token_digest(payload))

    assert worth(payload, unverifiable, issued).claims is not None
    assert worth(with_bad_signature(payload), unverifiable, issued).refusal is Verdict.INVALID


def test_a_key_admits_no_code_of_another_event(signed):
    payload, keys, ticket = signed
    elsewhere = {key_id: replace(key, event_id=OTHER_EVENT.id) for key_id, key in keys.items()}

    assert worth(payload, elsewhere, ticket).refusal is Verdict.INVALID


def test_a_retired_key_admits_nobody_not_even_the_very_token_it_signed(signed):
    payload, keys, ticket = signed
    retired = {key_id: replace(key, retired=True) for key_id, key in keys.items()}
    issued = ticket._replace(token_sha256=token_digest(payload))

    assert worth(payload, retired, issued).refusal is Verdict.INVALID


def test_a_code_of_a_key_the_roster_never_received_is_unknown(signed):
    payload, _keys, ticket = signed

    assert worth(payload, {}, ticket).refusal is Verdict.UNKNOWN_TICKET


# --- unknown_ticket ------------------------------------------------------------------------


def test_a_genuine_code_of_a_ticket_not_in_the_roster_is_unknown_and_recorded_on_its_list():
    not_delivered = a_ticket()
    request, codes = scan_of(not_delivered)

    judgement = judged(state(codes=codes), request).judgements["scan-1"]

    assert judgement.verdict is Verdict.UNKNOWN_TICKET
    assert (judgement.ticket, judgement.checkin_list) == (None, MAIN)


def test_a_manual_check_in_of_another_organisations_ticket_reveals_nothing():
    theirs = a_ticket(event_id=str(uuid.uuid4()))
    request = ScanRequest("manual-1", ticket_id=theirs.id)

    judgement = judged(state(theirs), request).judgements["manual-1"]

    assert judgement.verdict is Verdict.UNKNOWN_TICKET
    assert judgement.ticket is None


# --- wrong_event ---------------------------------------------------------------------------


def test_a_ticket_scanned_at_a_list_of_another_event_is_for_the_wrong_event():
    judgement = verdict_of(a_ticket(), list_id=OTHER_MAIN.id)

    assert judgement.verdict is Verdict.WRONG_EVENT
    assert (judgement.ticket, judgement.checkin_list) == (None, None)


def test_staff_of_another_event_and_organisers_of_another_organisation_get_wrong_event():
    staff_elsewhere = Principal(STAFF, "northwind", OTHER_EVENT.id)
    southwind = Principal(ORGANISER, "southwind")

    assert verdict_of(a_ticket(), by=staff_elsewhere).verdict is Verdict.WRONG_EVENT
    assert verdict_of(a_ticket(), by=southwind).verdict is Verdict.WRONG_EVENT
    assert verdict_of(a_ticket(), by=Principal(STAFF, "northwind", EVENT_ID)).verdict is (
        Verdict.OK
    )


# --- not_allowed_here ----------------------------------------------------------------------


def test_a_ticket_type_not_on_the_list_is_not_allowed_here():
    assert verdict_of(a_ticket(), list_id=CREW_DOOR.id).verdict is Verdict.NOT_ALLOWED_HERE
    assert verdict_of(a_ticket(ticket_type_id=CREW), list_id=CREW_DOOR.id).verdict is Verdict.OK


# --- not_yet_valid and expired -------------------------------------------------------------


def test_before_and_after_its_window_a_ticket_is_not_yet_valid_or_expired():
    ticket = a_ticket()

    early = verdict_of(ticket, scanned_at=OPENS - MINUTE)
    late = verdict_of(ticket, scanned_at=CLOSES + MINUTE)

    assert early.verdict is Verdict.NOT_YET_VALID
    assert late.verdict is Verdict.EXPIRED
    assert early.window == late.window == EntryWindow(OPENS, CLOSES)
    assert verdict_of(ticket, scanned_at=OPENS).verdict is Verdict.OK
    assert verdict_of(ticket, scanned_at=CLOSES).verdict is Verdict.OK


def test_a_lists_entry_window_narrows_the_tickets_own():
    workshop = MAIN._replace(id=str(uuid.uuid4()), opens_at=DURING_THE_SHOW)
    ticket = a_ticket()
    request, codes = scan_of(ticket, list_id=workshop.id, scanned_at=DURING_THE_SHOW - MINUTE)

    judgement = judged(
        state(ticket, codes=codes, lists={workshop.id: workshop}), request
    ).judgements["scan-1"]

    assert judgement.verdict is Verdict.NOT_YET_VALID
    assert judgement.window == EntryWindow(DURING_THE_SHOW, CLOSES)


# --- the order of the verdicts -------------------------------------------------------------


def test_revoked_outranks_every_later_verdict():
    ticket = a_ticket(revoked_at=OPENS)

    judgement = verdict_of(
        ticket,
        list_id=CREW_DOOR.id,
        scanned_at=CLOSES + MINUTE,
        admitted=(entry(ticket, at=OPENS, on=CREW_DOOR),),
    )

    assert judgement.verdict is Verdict.REVOKED


def test_the_window_outranks_the_ticket_type_and_an_earlier_entry():
    ticket = a_ticket()
    earlier = (entry(ticket, at=OPENS, on=CREW_DOOR),)

    judgement = verdict_of(
        ticket, list_id=CREW_DOOR.id, scanned_at=CLOSES + MINUTE, admitted=earlier
    )

    assert judgement.verdict is Verdict.EXPIRED


def test_the_ticket_type_outranks_an_earlier_entry():
    ticket = a_ticket()
    earlier = (entry(ticket, at=OPENS, on=CREW_DOOR),)

    judgement = verdict_of(ticket, list_id=CREW_DOOR.id, admitted=earlier)

    assert judgement.verdict is Verdict.NOT_ALLOWED_HERE


def test_a_refused_code_outranks_the_wrong_event_and_keeps_the_list_chosen():
    request = ScanRequest("scan-1", payload="LG1:???", list_id=OTHER_MAIN.id)
    codes = {"scan-1": CheckedCode(refusal=Verdict.INVALID)}

    judgement = judged(state(codes=codes), request).judgements["scan-1"]

    assert judgement.verdict is Verdict.INVALID
    assert judgement.checkin_list == OTHER_MAIN


def test_the_wrong_event_outranks_an_unknown_ticket():
    not_delivered = a_ticket()
    request, codes = scan_of(not_delivered, list_id=OTHER_MAIN.id)

    assert judged(state(codes=codes), request).judgements["scan-1"].verdict is (Verdict.WRONG_EVENT)


# --- exits ---------------------------------------------------------------------------------


def test_nobody_is_kept_from_leaving_and_the_answer_says_whether_they_were_inside():
    ticket = a_ticket(revoked_at=OPENS)
    inside = entry(ticket, at=OPENS)
    request, codes = scan_of(ticket, direction="out", scanned_at=CLOSES + timedelta(hours=1))

    decided = judged(state(ticket, admitted=(inside,), codes=codes), request)

    judgement = decided.judgements["scan-1"]
    assert (judgement.verdict, judgement.was_inside) == (Verdict.OK, True)
    [change] = decided.changed_admissions
    assert change.read == inside
    assert (change.now.exited_at, change.now.exit_scan_id) == (request.scanned_at, "scan-1")
    never_in = verdict_of(a_ticket(), direction="out")
    assert (never_in.verdict, never_in.was_inside) == (Verdict.OK, False)


# --- re-entry ------------------------------------------------------------------------------


def test_a_daily_list_admits_again_the_next_day_and_closes_the_days_before():
    festival = MAIN._replace(reentry="daily")
    ticket = a_ticket(valid_until=CLOSES + timedelta(days=3))
    yesterday = entry(ticket, at=DURING_THE_SHOW, entry_key="2030-06-02")
    request, codes = scan_of(ticket, scanned_at=DURING_THE_SHOW + timedelta(days=1))
    known = state(ticket, admitted=(yesterday,), codes=codes, default_lists={EVENT_ID: festival})

    decided = judged(known, request)

    assert decided.judgements["scan-1"].verdict is Verdict.OK
    assert [admission.entry_key for admission in decided.new_admissions] == ["2030-06-03"]
    [closed] = decided.changed_admissions
    assert closed.now.exited_at == request.scanned_at and closed.now.exit_scan_id is None


# --- offline batches -----------------------------------------------------------------------


def test_in_a_batch_the_earliest_scan_wins_whatever_the_order_sent():
    ticket = a_ticket()
    later, codes = scan_of(ticket, "later", scanned_at=DURING_THE_SHOW + MINUTE)
    earliest, more = scan_of(ticket, "earliest", scanned_at=DURING_THE_SHOW)

    decided = judged(state(ticket, codes={**codes, **more}), later, earliest, offline=True)

    assert list(decided.judgements) == ["earliest", "later"], "judged in scanned_at order"
    assert decided.judgements["earliest"].verdict is Verdict.OK
    assert decided.judgements["later"].previous.scan_id == "earliest"


def test_an_earlier_offline_scan_takes_a_later_admission_over():
    ticket = a_ticket()
    online = entry(ticket, at=DURING_THE_SHOW + 10 * MINUTE, scan_id="online-1")
    request, codes = scan_of(ticket, "offline-1", scanned_at=DURING_THE_SHOW)
    known = state(ticket, admitted=(online,), codes=codes)

    offline = judged(known, request, offline=True)
    at_the_door = judged(known, request, offline=False)

    assert offline.judgements["offline-1"].verdict is Verdict.OK
    assert offline.judgements["offline-1"].displaced == online
    [change] = offline.changed_admissions
    assert (change.now.scan_id, change.now.admitted_at) == ("offline-1", DURING_THE_SHOW)
    assert [(s.scan_id, s.by) for s in offline.superseded] == [("online-1", "offline-1")]
    assert at_the_door.judgements["offline-1"].verdict is Verdict.ALREADY_CHECKED_IN


# --- choosing a list -----------------------------------------------------------------------


def test_a_list_the_caller_may_not_use_is_not_found_and_nothing_is_judged():
    ticket = a_ticket()
    request, codes = scan_of(ticket, list_id=OTHER_MAIN.id)
    staff = Principal(STAFF, "northwind", EVENT_ID)

    with pytest.raises(NotFound):
        judged(state(ticket, codes=codes), request, by=staff)
    with pytest.raises(NotFound):
        judged(state(ticket, codes=codes), replace(request, list_id=str(uuid.uuid4())))
