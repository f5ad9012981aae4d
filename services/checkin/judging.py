"""The door's rules, decided without a database: whether a scanned code is genuine, and each
scan's verdict in the order scanning.py gives, from the records a judgement loaded
(scan_records.py). Scans are judged in `scanned_at` order, each seeing the admissions the
ones before it changed; what they change is handed back for writing. Plain Python: a unit
test builds the records in memory."""

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import NamedTuple

from services.checkin.lists import NO_SUCH_LIST, EntryRule, may_scan_for
from services.checkin.scan_records import (
    OUT,
    CheckedCode,
    DoorEvent,
    DoorKey,
    DoorList,
    DoorTicket,
    Entry,
    EntryWindow,
    Judgement,
    ScanRequest,
    Verdict,
)
from shared.auth import Principal, token_digest
from shared.errors import NotFound
from shared.models import new_id
from shared.tokens import InvalidTicketToken, ReadToken, verify_read_ticket


def checked_code(
    payload: str,
    read: ReadToken | None,
    keys: Mapping[str, DoorKey],
    tickets: Mapping[str, DoorTicket],
) -> CheckedCode:
    """What a scanned code is worth: `read` is the code as read (None: unreadable), `keys` and
    `tickets` what the roster holds. A code counts only under a key made for the event it
    names, and not retired: one leaked or retired key admits nobody anywhere else. The very
    token ticketing issued for a roster ticket is then known by its digest; any other code
    must carry a valid signature (an altered code has another digest, so it is checked and
    refused)."""
    if read is None:
        return CheckedCode(refusal=Verdict.INVALID)
    key = keys.get(read.claims.key_id)
    if key is None:
        # Genuine or not, no ticket signed by this key has reached the roster.
        return CheckedCode(refusal=Verdict.UNKNOWN_TICKET)
    if key.retired or key.event_id != str(read.claims.event_id):
        return CheckedCode(refusal=Verdict.INVALID)
    ticket = tickets.get(str(read.claims.ticket_id))
    if ticket is not None and ticket.token_sha256 == token_digest(payload):
        return CheckedCode(claims=read.claims)
    try:
        return CheckedCode(claims=verify_read_ticket(read, {read.claims.key_id: key.public_key}))
    except InvalidTicketToken:
        return CheckedCode(refusal=Verdict.INVALID)


@dataclass(frozen=True)
class DoorState:
    """What the door knows for one judgement: the scanned codes checked (by scan id), the
    tickets they and the manual scans name, the events, the lists the scans chose, each
    event's default list, and the admissions by (list id, ticket id), oldest first."""

    codes: dict[str, CheckedCode] = field(default_factory=dict)
    tickets: dict[str, DoorTicket] = field(default_factory=dict)
    events: dict[str, DoorEvent] = field(default_factory=dict)
    lists: dict[str, DoorList] = field(default_factory=dict)
    default_lists: dict[str, DoorList] = field(default_factory=dict)
    admissions: dict[tuple[str, str], list[Entry]] = field(default_factory=dict)


class AdmissionChange(NamedTuple):
    """An admission as it was read and as the judgement left it: written on condition that
    nobody changed it in between."""

    read: Entry
    now: Entry


class Superseded(NamedTuple):
    """An admitting scan whose admission an earlier offline scan (`by`) took over. It may be
    another device's: it is the one with this id that admitted this ticket on this list."""

    list_id: str
    ticket_id: str
    scan_id: str
    by: str


@dataclass(frozen=True)
class Judged:
    """What judging a request's scans decided: each scan's judgement by scan id, in the
    order judged, and the admissions they add and change."""

    judgements: dict[str, Judgement]
    new_admissions: list[Entry]
    changed_admissions: list[AdmissionChange]
    superseded: list[Superseded]


def judge_scans(
    state: DoorState,
    principal: Principal,
    requests: list[ScanRequest],
    now: datetime,
    offline: bool,
) -> Judged:
    """Judge `requests` (each scan id once) in `scanned_at` order, at `now` those without
    one. Online the first admission wins; in an offline batch an earlier scan takes a later
    admission over. A list the caller may not use is not found, and nothing is judged."""
    for list_id in {request.list_id for request in requests if request.list_id is not None}:
        chosen = state.lists.get(list_id)
        if chosen is None or not may_scan_for(principal, state.events.get(chosen.event_id)):
            raise NotFound(NO_SUCH_LIST)
    door = _Door(state, principal, now, offline)
    judgements = {
        request.scan_id: door.judge(request) for request in sorted(requests, key=door.scanned_at)
    }
    return Judged(
        judgements,
        list(door.new.values()),
        list(door.changed.values()),
        [Superseded(*scan, by=by) for scan, by in door.superseded.items()],
    )


class _Facts(NamedTuple):
    """What a scan says about its ticket: signed in the code, or the roster's for a manual
    check-in."""

    event_id: str
    ticket_id: str
    valid_from: datetime
    valid_until: datetime


class _Door:
    """One judgement's scans, judged one after the other against the admissions so far."""

    def __init__(self, state: DoorState, principal: Principal, now: datetime, offline: bool):
        self.state = state
        self.principal = principal
        self.now = now
        self.offline = offline
        self.admissions: dict[tuple[str, str], list[Entry]] = defaultdict(list)
        self.admissions.update((key, list(entries)) for key, entries in state.admissions.items())
        self.new: dict[str, Entry] = {}
        self.changed: dict[str, AdmissionChange] = {}
        self.superseded: dict[tuple[str, str, str], str] = {}

    def scanned_at(self, request: ScanRequest) -> datetime:
        return request.made_at(self.now)

    def judge(self, request: ScanRequest) -> Judgement:
        chosen = self.state.lists.get(request.list_id) if request.list_id else None
        if request.payload is not None:
            code = self.state.codes[request.scan_id]
            if code.refusal is not None:
                return Judgement(code.refusal, checkin_list=chosen)
            claims = code.claims
            facts = _Facts(
                str(claims.event_id), str(claims.ticket_id), claims.valid_from, claims.valid_until
            )
        else:
            ticket = self.state.tickets.get(request.ticket_id)
            if ticket is None or not may_scan_for(
                self.principal, self.state.events.get(ticket.event_id)
            ):
                # Another organisation's ticket id reveals nothing, not even that it exists.
                return Judgement(Verdict.UNKNOWN_TICKET, checkin_list=chosen)
            facts = _Facts(ticket.event_id, ticket.id, ticket.valid_from, ticket.valid_until)
        return self._judge_ticket(request, chosen, facts)

    def _judge_ticket(
        self, request: ScanRequest, chosen: DoorList | None, facts: _Facts
    ) -> Judgement:
        checkin_list = chosen or self._default_list(facts.event_id)
        if checkin_list is None or checkin_list.event_id != facts.event_id:
            return Judgement(Verdict.WRONG_EVENT)
        ticket = self.state.tickets.get(facts.ticket_id)
        if ticket is None:
            return Judgement(Verdict.UNKNOWN_TICKET, checkin_list=checkin_list)
        event = self.state.events[ticket.event_id]
        # Every answer about a known ticket shows it, and the list it was judged on.
        shown = partial(
            Judgement,
            checkin_list=checkin_list,
            ticket=ticket,
            ticket_type_name=event.ticket_type_name(ticket.ticket_type_id),
        )
        if request.direction == OUT:
            return shown(Verdict.OK, was_inside=self._exit(request, checkin_list, ticket))
        if ticket.revoked_at is not None:
            return shown(Verdict.REVOKED)
        window = EntryWindow(
            max(filter(None, (facts.valid_from, checkin_list.opens_at))),
            min(filter(None, (facts.valid_until, checkin_list.closes_at))),
        )
        scanned_at = self.scanned_at(request)
        if scanned_at < window.opens_at:
            return shown(Verdict.NOT_YET_VALID, window=window)
        if scanned_at > window.closes_at:
            return shown(Verdict.EXPIRED, window=window)
        if checkin_list.ticket_type_ids is not None and (
            ticket.ticket_type_id not in checkin_list.ticket_type_ids
        ):
            return shown(Verdict.NOT_ALLOWED_HERE)
        return self._enter(request, checkin_list, event, ticket, shown)

    def _default_list(self, event_id: str) -> DoorList | None:
        if not may_scan_for(self.principal, self.state.events.get(event_id)):
            return None
        return self.state.default_lists.get(event_id)

    def _enter(
        self,
        request: ScanRequest,
        checkin_list: DoorList,
        event: DoorEvent,
        ticket: DoorTicket,
        shown: Callable[..., Judgement],
    ) -> Judgement:
        scanned_at = self.scanned_at(request)
        rule = EntryRule(checkin_list.reentry, event.timezone)
        admissions = self.admissions[(checkin_list.id, ticket.id)]
        entry_key = rule.entry_key(scanned_at, len(admissions))
        earlier = rule.blocking(admissions, entry_key)
        if earlier is None:
            for still_open in [entry for entry in admissions if entry.exited_at is None]:
                # A new day's entry closes yesterday's, so "inside" counts stay right on
                # lists where nobody scans out.
                self._change(still_open, exited_at=scanned_at)
            entry = Entry(
                id=new_id(),
                list_id=checkin_list.id,
                ticket_id=ticket.id,
                entry_key=entry_key,
                scan_id=request.scan_id,
                admitted_at=scanned_at,
                gate=checkin_list.name,
            )
            admissions.append(entry)
            self.new[entry.id] = entry
            return shown(Verdict.OK)
        if self.offline and rule.earliest_scan_wins and scanned_at < earlier.admitted_at:
            self.superseded[(earlier.list_id, earlier.ticket_id, earlier.scan_id)] = request.scan_id
            self._change(earlier, scan_id=request.scan_id, admitted_at=scanned_at)
            return shown(Verdict.OK, displaced=earlier)
        return shown(Verdict.ALREADY_CHECKED_IN, previous=earlier)

    def _exit(self, request: ScanRequest, checkin_list: DoorList, ticket: DoorTicket) -> bool:
        """Whether the ticket was inside, as it leaves."""
        admissions = self.admissions[(checkin_list.id, ticket.id)]
        inside = next((entry for entry in admissions if entry.exited_at is None), None)
        if inside is None:
            return False
        self._change(inside, exited_at=self.scanned_at(request), exit_scan_id=request.scan_id)
        return True

    def _change(self, entry: Entry, **values) -> None:
        """Change an admission for the scans judged after this one, and for writing: a new
        one is inserted as it ends up, one read from the database is updated on condition
        that it is still as read."""
        changed = entry._replace(**values)
        admissions = self.admissions[(entry.list_id, entry.ticket_id)]
        admissions[admissions.index(entry)] = changed
        if entry.id in self.new:
            self.new[entry.id] = changed
        else:
            read = self.changed[entry.id].read if entry.id in self.changed else entry
            self.changed[entry.id] = AdmissionChange(read, changed)
