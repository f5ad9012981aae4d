"""Judging scans and recording them: one online scan, or an offline batch of thousands, by
the same rules and set-wise (a handful of queries per batch, not per scan). No Flask, no
broker.

A scan is judged in a fixed order, so the answer staff see is the one that matters most:
unreadable or forged, wrong event, unknown, revoked (which outranks an earlier entry),
outside the validity window, not for this list, already in, ok. An exit scan stops after
"unknown": nobody is kept from leaving.

Online, the first admission the database accepts wins: two doors scanning one ticket at the
same moment race for one unique (list, ticket, entry) row and exactly one gets `ok`. An
offline batch reports what doors already did, so there the earliest scan wins, taking over
an admission recorded later (docs/architecture.md, "Check-in verdicts").
"""

import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from weakref import WeakKeyDictionary

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from services.checkin.lists import EntryRule, may_scan_for
from services.checkin.models import (
    Admission,
    CheckinList,
    EventInfo,
    PublicKey,
    RosterTicket,
    Scan,
)
from shared.auth import Principal, token_digest
from shared.errors import NotFound
from shared.models import new_id
from shared.tokens import (
    InvalidTicketToken,
    ReadToken,
    load_public_key,
    read_ticket,
    verify_read_ticket,
)

OK = "ok"
ALREADY_CHECKED_IN = "already_checked_in"
REVOKED = "revoked"
INVALID = "invalid"
UNKNOWN_TICKET = "unknown_ticket"
WRONG_EVENT = "wrong_event"
NOT_ALLOWED_HERE = "not_allowed_here"
NOT_YET_VALID = "not_yet_valid"
EXPIRED = "expired"
VERDICTS = (
    OK,
    ALREADY_CHECKED_IN,
    REVOKED,
    INVALID,
    UNKNOWN_TICKET,
    WRONG_EVENT,
    NOT_ALLOWED_HERE,
    NOT_YET_VALID,
    EXPIRED,
)

IN, OUT = "in", "out"
DIRECTIONS = (IN, OUT)

# Rows asked for in one IN (...) clause; SQLite and PostgreSQL both cap bound parameters.
_CHUNK = 2000


class _Columns:
    """Some columns of a table read into plain records: building the ORM's objects costs
    more than running the door's query, and a judgement changes nothing through them."""

    def __init__(self, table, *names: str):
        self.columns = [table.c[name] for name in names]
        self._names = names

    def record(self, row, start: int) -> SimpleNamespace | None:
        values = row[start : start + len(self._names)]
        if values[0] is None:  # the outer join found nothing
            return None
        return SimpleNamespace(**dict(zip(self._names, values, strict=True)))


_TICKETS, _EVENTS, _LISTS_TABLE, _ADMISSIONS, _SCANS = (
    RosterTicket.__table__,
    EventInfo.__table__,
    CheckinList.__table__,
    Admission.__table__,
    Scan.__table__,
)
_TICKET = _Columns(
    _TICKETS,
    "id",
    "event_id",
    "registration_id",
    "ticket_type_id",
    "attendee_name",
    "valid_from",
    "valid_until",
    "revoked_at",
    "token_sha256",
)
_EVENT = _Columns(_EVENTS, "id", "organisation_id", "timezone", "ticket_type_names")
_LIST_FIELDS = ("id", "event_id", "name", "ticket_type_ids", "opens_at", "closes_at", "reentry")
_LIST = _Columns(_LISTS_TABLE, *_LIST_FIELDS)
_DEFAULT_LIST_TABLE = _LISTS_TABLE.alias("default_list")
_DEFAULT_LIST = _Columns(_DEFAULT_LIST_TABLE, *_LIST_FIELDS)
_ADMISSION = _Columns(
    _ADMISSIONS,
    "id",
    "list_id",
    "entry_key",
    "scan_id",
    "admitted_at",
    "exited_at",
    "exit_scan_id",
)
_ADMITTED_ON = _LISTS_TABLE.alias("admitted_on")

# The statements of every judgement, built once: building them per scan costs more CPU than
# running them. Each takes its ids as the expanding parameter "ids".
_IDS = bindparam("ids", expanding=True)
_RECORDED_ANSWERS = select(Scan.scan_id, Scan.answer).where(
    Scan.organisation_id == bindparam("organisation"),
    Scan.scope == bindparam("scope"),
    Scan.scan_id.in_(_IDS),
)
_LISTS = select(*_LIST.columns).where(_LISTS_TABLE.c.id.in_(_IDS))
_WITH_DEFAULT_LIST = (_DEFAULT_LIST_TABLE.c.event_id == _EVENTS.c.id) & (
    _DEFAULT_LIST_TABLE.c.is_default.is_(True)
)
# A ticket with its event, the event's default list and its admissions with their gates:
# one round trip for what an online scan reads.
_TICKETS_WITH_STATE = (
    select(
        *_TICKET.columns,
        *_EVENT.columns,
        *_DEFAULT_LIST.columns,
        *_ADMISSION.columns,
        _ADMITTED_ON.c.name,
    )
    .select_from(_TICKETS)
    .join(_EVENTS, _EVENTS.c.id == _TICKETS.c.event_id)
    .outerjoin(_DEFAULT_LIST_TABLE, _WITH_DEFAULT_LIST)
    .outerjoin(_ADMISSIONS, _ADMISSIONS.c.ticket_id == _TICKETS.c.id)
    .outerjoin(_ADMITTED_ON, _ADMITTED_ON.c.id == _ADMISSIONS.c.list_id)
    .where(_TICKETS.c.id.in_(_IDS))
    .order_by(_ADMISSIONS.c.admitted_at)
)
_EVENTS_WITH_DEFAULT_LIST = (
    select(*_EVENT.columns, *_DEFAULT_LIST.columns)
    .select_from(_EVENTS)
    .outerjoin(_DEFAULT_LIST_TABLE, _WITH_DEFAULT_LIST)
    .where(_EVENTS.c.id.in_(_IDS))
)


@dataclass(frozen=True)
class ScanRequest:
    """A scanned code (`payload`) or, for a manual check-in, a ticket id from a search."""

    scan_id: str
    payload: str | None = None
    ticket_id: str | None = None
    list_id: str | None = None
    scanned_at: datetime | None = None
    direction: str = IN


class LostRace(Exception):
    """Another door wrote the row this judgement relied on first; judge again."""


@dataclass
class _Entry:
    """An admission as the judgement sees and changes it."""

    id: str
    list_id: str
    ticket_id: str
    entry_key: str
    scan_id: str
    admitted_at: datetime
    gate: str
    exited_at: datetime | None = None
    exit_scan_id: str | None = None
    is_new: bool = False


@dataclass(frozen=True)
class _Facts:
    """What a scan says about its ticket: signed in the code, or the roster's for a manual
    check-in."""

    event_id: str
    ticket_id: str
    valid_from: datetime
    valid_until: datetime


@dataclass
class Outcome:
    """The answers, in request order, the rows to insert (new admissions and the scans) and
    the checkin.recorded data to publish: the caller inserts rows and events together."""

    answers: list[dict]
    new_rows: list[tuple[Table, list[dict]]] = field(default_factory=list)
    recorded: list[dict] = field(default_factory=list)


def record_scans(
    session: Session,
    principal: Principal,
    requests: list[ScanRequest],
    now: datetime,
    offline: bool,
    look_up_scan_ids: bool = True,
) -> Outcome:
    """Judge `requests`, change the admissions they change in `session`, and return the rows
    they add; a scan id the same sender used before (earlier, or earlier in the same batch)
    answers its first answer. Without `look_up_scan_ids` the caller relies on the scans'
    primary key to refuse an id seen before when it inserts the rows."""
    first_of: dict[str, ScanRequest] = {}
    for request in requests:
        first_of.setdefault(request.scan_id, request)
    answers = _recorded_answers(session, principal, list(first_of)) if look_up_scan_ids else {}
    fresh = [request for scan_id, request in first_of.items() if scan_id not in answers]
    door = _Door(session, principal, now, offline)
    door.load(fresh)
    for request in sorted(fresh, key=door.scanned_at):
        answers[request.scan_id] = door.judge(request)
    door.change_admissions()
    answered = [answers[request.scan_id] for request in requests]
    return Outcome(answered, door.new_rows(), door.recorded)


def _recorded_answers(session: Session, principal: Principal, scan_ids: list[str]) -> dict:
    rows = _rows_in(
        session.connection(),
        _RECORDED_ANSWERS,
        scan_ids,
        organisation=principal.organisation_id,
        scope=principal.subject,
    )
    return dict(rows)


def _rows_in(connection: Connection, statement, ids: Iterable, **parameters) -> list:
    """The rows of `statement` for `ids` (its expanding "ids" parameter), a chunk at a time."""
    ids = list(dict.fromkeys(ids))
    rows = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        rows += connection.execute(statement, {"ids": chunk, **parameters}).all()
    return rows


class _Door:
    """The state one judgement needs, loaded set-wise, and what it changes."""

    def __init__(self, session: Session, principal: Principal, now: datetime, offline: bool):
        self.session = session
        # Core statements on the session's connection: in its transaction, without the
        # ORM's execution, which costs more than the door's statements.
        self.connection = session.connection()
        self.principal = principal
        self.now = now
        self.offline = offline
        self.claims = {}
        self.tickets: dict[str, RosterTicket] = {}
        self.lists: dict[str, CheckinList] = {}
        self.default_lists: dict[str, CheckinList] = {}
        self.events: dict[str, EventInfo] = {}
        self.admissions: dict[tuple[str, str], list[_Entry]] = defaultdict(list)
        self.scan_rows: list[dict] = []
        self.changed: dict[str, tuple[_Entry, dict]] = {}
        self.superseded: dict[tuple[str, str, str], str] = {}
        self.recorded: list[dict] = []

    def scanned_at(self, request: ScanRequest) -> datetime:
        return request.scanned_at or self.now

    # --- loading ---------------------------------------------------------------------------

    def load(self, requests: list[ScanRequest]) -> None:
        codes = [
            (r.scan_id, r.payload, _read(r.payload)) for r in requests if r.payload is not None
        ]
        readable = [read for _, _, read in codes if not isinstance(read, str)]
        ticket_ids = {str(read.claims.ticket_id) for read in readable}
        ticket_ids |= {r.ticket_id for r in requests if r.ticket_id is not None}
        self._load_tickets(ticket_ids)
        keys = _DoorKeys(self.session)
        for scan_id, payload, read in codes:
            self.claims[scan_id] = (
                read if isinstance(read, str) else self._genuine(payload, read, keys)
            )
        claimed = [claims for claims in self.claims.values() if not isinstance(claims, str)]
        list_ids = {r.list_id for r in requests if r.list_id is not None}
        if list_ids:
            rows = _rows_in(self.connection, _LISTS, list_ids)
            self.lists = {row.id: _LIST.record(row, 0) for row in rows}
        event_ids = {str(claims.event_id) for claims in claimed}
        event_ids |= {item.event_id for item in self.lists.values()}
        if missing := event_ids - set(self.events):
            self._load_events(missing)
        for list_id in list_ids:
            chosen = self.lists.get(list_id)
            if chosen is None or not may_scan_for(self.principal, self.events.get(chosen.event_id)):
                raise NotFound("No such check-in list.")

    def _genuine(self, payload: str, read: ReadToken, keys: "_DoorKeys"):
        """The claims of a genuine code, else its verdict. A code counts only under a key
        made for the event it names, and not retired: one leaked or retired key admits
        nobody anywhere else. The very token ticketing issued for a roster ticket is then
        known by its digest; any other code must carry a valid signature (an altered code
        has another digest, so it is checked and refused)."""
        key = keys.get(read.claims.key_id)
        if key is None:
            # Genuine or not, no ticket signed by this key has reached the roster.
            return UNKNOWN_TICKET
        if key.retired or key.event_id != str(read.claims.event_id):
            return INVALID
        ticket = self.tickets.get(str(read.claims.ticket_id))
        if ticket is not None and ticket.token_sha256 == token_digest(payload):
            return read.claims
        return _verified(read, key)

    def _load_tickets(self, ticket_ids: set[str]) -> None:
        """The tickets with their events, default lists and admissions, in one query (per
        chunk of ids): the online scan's round trips are what its latency is made of."""
        rows = _rows_in(self.connection, _TICKETS_WITH_STATE, ticket_ids)
        event_at = len(_TICKET.columns)
        default_at = event_at + len(_EVENT.columns)
        admission_at = default_at + len(_DEFAULT_LIST.columns)
        for row in rows:
            ticket = self.tickets.get(row[0]) or _TICKET.record(row, 0)
            self.tickets[ticket.id] = ticket
            if ticket.event_id not in self.events:
                event = _EVENT.record(row, event_at)
                self._know_event(event, _DEFAULT_LIST.record(row, default_at))
            admission = _ADMISSION.record(row, admission_at)
            if admission is not None:
                self.admissions[(admission.list_id, ticket.id)].append(
                    _Entry(
                        id=admission.id,
                        list_id=admission.list_id,
                        ticket_id=ticket.id,
                        entry_key=admission.entry_key,
                        scan_id=admission.scan_id,
                        admitted_at=admission.admitted_at,
                        gate=row[-1],
                        exited_at=admission.exited_at,
                        exit_scan_id=admission.exit_scan_id,
                    )
                )

    def _load_events(self, event_ids: set[str]) -> None:
        """Events the tickets did not bring: of codes not in the roster, of chosen lists."""
        default_at = len(_EVENT.columns)
        for row in _rows_in(self.connection, _EVENTS_WITH_DEFAULT_LIST, event_ids):
            self._know_event(_EVENT.record(row, 0), _DEFAULT_LIST.record(row, default_at))

    def _know_event(self, event: EventInfo, default: CheckinList | None) -> None:
        self.events[event.id] = event
        if default is not None:
            self.default_lists[event.id] = default

    # --- judging ---------------------------------------------------------------------------

    def judge(self, request: ScanRequest) -> dict:
        answer, ticket, checkin_list = self._verdict(request)
        answer = {"scan_id": request.scan_id, **answer}
        scanned_at = self.scanned_at(request)
        event_id = checkin_list.event_id if checkin_list is not None else None
        self.scan_rows.append(
            {
                "organisation_id": self.principal.organisation_id,
                "scope": self.principal.subject,
                "scan_id": request.scan_id,
                "event_id": event_id,
                "list_id": checkin_list.id if checkin_list is not None else None,
                "ticket_id": ticket.id if ticket is not None else None,
                "verdict": answer["verdict"],
                "direction": request.direction,
                "manual": request.ticket_id is not None,
                "scanned_at": scanned_at,
                "recorded_at": self.now,
                "answer": answer,
            }
        )
        if ticket is not None and checkin_list is not None:
            self.recorded.append(
                {
                    "scan_id": request.scan_id,
                    "ticket_id": ticket.id,
                    "registration_id": ticket.registration_id,
                    "event_id": ticket.event_id,
                    "list_id": checkin_list.id,
                    "verdict": answer["verdict"],
                    "direction": request.direction,
                    "scanned_at": scanned_at,
                }
            )
        return answer

    def _verdict(self, request: ScanRequest):
        facts = self._facts(request)
        chosen = self.lists.get(request.list_id) if request.list_id else None
        if isinstance(facts, str):
            return {"verdict": facts}, None, chosen
        checkin_list = chosen or self._default_list(facts.event_id)
        if checkin_list is None or checkin_list.event_id != facts.event_id:
            return {"verdict": WRONG_EVENT}, None, None
        ticket = self.tickets.get(facts.ticket_id)
        if ticket is None:
            return {"verdict": UNKNOWN_TICKET}, None, checkin_list
        event = self.events[ticket.event_id]
        seen = {"ticket": ticket_view(ticket, event), "list_id": checkin_list.id}
        scanned_at = self.scanned_at(request)
        if request.direction == OUT:
            exit_answer = {"verdict": OK, **seen, **self._exit(checkin_list, ticket, request)}
            return exit_answer, ticket, checkin_list
        if ticket.revoked_at is not None:
            return {"verdict": REVOKED, **seen}, ticket, checkin_list
        opens_at = max(filter(None, (facts.valid_from, checkin_list.opens_at)))
        closes_at = min(filter(None, (facts.valid_until, checkin_list.closes_at)))
        window = {"window": {"opens_at": opens_at.isoformat(), "closes_at": closes_at.isoformat()}}
        if scanned_at < opens_at:
            return {"verdict": NOT_YET_VALID, **seen, **window}, ticket, checkin_list
        if scanned_at > closes_at:
            return {"verdict": EXPIRED, **seen, **window}, ticket, checkin_list
        if checkin_list.ticket_type_ids is not None and (
            ticket.ticket_type_id not in checkin_list.ticket_type_ids
        ):
            return {"verdict": NOT_ALLOWED_HERE, **seen}, ticket, checkin_list
        return {**self._enter(checkin_list, event, ticket, request), **seen}, ticket, checkin_list

    def _facts(self, request: ScanRequest) -> _Facts | str:
        """The ticket the scan names, or the verdict when it names none we may judge."""
        if request.payload is not None:
            claims = self.claims[request.scan_id]
            if isinstance(claims, str):
                return claims
            return _Facts(
                str(claims.event_id),
                str(claims.ticket_id),
                claims.valid_from,
                claims.valid_until,
            )
        ticket = self.tickets.get(request.ticket_id)
        if ticket is None or not may_scan_for(self.principal, self.events.get(ticket.event_id)):
            # Another organisation's ticket id reveals nothing, not even that it exists.
            return UNKNOWN_TICKET
        return _Facts(ticket.event_id, ticket.id, ticket.valid_from, ticket.valid_until)

    def _default_list(self, event_id: str) -> CheckinList | None:
        if not may_scan_for(self.principal, self.events.get(event_id)):
            return None
        return self.default_lists.get(event_id)

    def _enter(
        self, checkin_list: CheckinList, event: EventInfo, ticket: RosterTicket, request
    ) -> dict:
        scanned_at = self.scanned_at(request)
        rule = EntryRule(checkin_list.reentry, event.timezone)
        admissions = self.admissions[(checkin_list.id, ticket.id)]
        entry_key = rule.entry_key(scanned_at, len(admissions))
        earlier = rule.blocking(admissions, entry_key)
        if earlier is None:
            for still_open in (a for a in admissions if a.exited_at is None):
                # A new day's entry closes yesterday's, so "inside" counts stay right on
                # lists where nobody scans out.
                self._change(still_open, exited_at=scanned_at)
            admissions.append(
                _Entry(
                    id=new_id(),
                    list_id=checkin_list.id,
                    ticket_id=ticket.id,
                    entry_key=entry_key,
                    scan_id=request.scan_id,
                    admitted_at=scanned_at,
                    gate=checkin_list.name,
                    is_new=True,
                )
            )
            return {"verdict": OK}
        if self.offline and rule.earliest_scan_wins and scanned_at < earlier.admitted_at:
            displaced = previous_view(earlier, earlier.gate)
            self.superseded[(earlier.list_id, earlier.ticket_id, earlier.scan_id)] = request.scan_id
            self._change(earlier, scan_id=request.scan_id, admitted_at=scanned_at)
            return {"verdict": OK, "displaced": displaced}
        return {"verdict": ALREADY_CHECKED_IN, "previous": previous_view(earlier, earlier.gate)}

    def _exit(self, checkin_list: CheckinList, ticket: RosterTicket, request) -> dict:
        admissions = self.admissions[(checkin_list.id, ticket.id)]
        inside = next((a for a in admissions if a.exited_at is None), None)
        if inside is None:
            return {"was_inside": False}
        self._change(inside, exited_at=self.scanned_at(request), exit_scan_id=request.scan_id)
        return {"was_inside": True}

    def _change(self, entry: _Entry, **values) -> None:
        """Change an admission in memory now and in the database at write(), on condition
        that nobody changed it in between."""
        if not entry.is_new and entry.id not in self.changed:
            self.changed[entry.id] = (entry, {"scan_id": entry.scan_id, "exited": entry.exited_at})
        for name, value in values.items():
            setattr(entry, name, value)

    # --- writing ---------------------------------------------------------------------------

    def change_admissions(self) -> None:
        """Write the changes to admissions recorded before, each on condition that nobody
        changed it since it was read."""
        connection = self.connection
        for entry, seen in self.changed.values():
            unchanged_since = Admission.scan_id == seen["scan_id"]
            if seen["exited"] is None:
                unchanged_since &= Admission.exited_at.is_(None)
            result = connection.execute(
                update(Admission)
                .where(Admission.id == entry.id, unchanged_since)
                .values(
                    scan_id=entry.scan_id,
                    admitted_at=entry.admitted_at,
                    exited_at=entry.exited_at,
                    exit_scan_id=entry.exit_scan_id,
                )
            )
            if result.rowcount != 1:
                raise LostRace(entry.id)
        for (list_id, ticket_id, scan_id), by in self.superseded.items():
            # The admitting scan may be another device's: it is the one with this id that
            # admitted this ticket on this list.
            connection.execute(
                update(Scan)
                .where(
                    Scan.organisation_id == self.principal.organisation_id,
                    Scan.list_id == list_id,
                    Scan.ticket_id == ticket_id,
                    Scan.scan_id == scan_id,
                )
                .values(superseded_by=by)
            )

    def new_rows(self) -> list[tuple[Table, list[dict]]]:
        new = [entry for entries in self.admissions.values() for entry in entries if entry.is_new]
        admissions = [
            {
                "id": e.id,
                "list_id": e.list_id,
                "ticket_id": e.ticket_id,
                "entry_key": e.entry_key,
                "scan_id": e.scan_id,
                "admitted_at": e.admitted_at,
                "exited_at": e.exited_at,
                "exit_scan_id": e.exit_scan_id,
            }
            for e in new
        ]
        return [(_ADMISSIONS, admissions), (_SCANS, self.scan_rows)]


def _read(payload: str) -> ReadToken | str:
    try:
        return read_ticket(payload)
    except InvalidTicketToken:
        return INVALID


def _verified(read: ReadToken, key: "DoorKey"):
    try:
        return verify_read_ticket(read, {read.claims.key_id: key.public_key})
    except InvalidTicketToken:
        return INVALID


@dataclass(frozen=True)
class DoorKey:
    """A signing key as the door trusts it: for tokens of its own event, until retired."""

    event_id: str
    public_key: Ed25519PublicKey | None
    retired: bool


# A retirement recorded through another process reaches this one within this time: a key not
# retired when read is read again after it. A retired key never comes back, so it is kept.
KEY_RECHECK_SECONDS = 1.0

# Keys by database and key id, with when each was read (time.monotonic). An unknown id is
# asked for each time, as its key may arrive with the next ticket.issued.
_KNOWN_KEYS: "WeakKeyDictionary[Engine, dict[str, tuple[DoorKey, float]]]" = WeakKeyDictionary()


def forget_key(session: Session, key_id: str) -> None:
    """Read the key afresh at the next scan in this process (its retirement is being
    recorded): other processes notice within KEY_RECHECK_SECONDS."""
    _KNOWN_KEYS.get(session.get_bind(), {}).pop(key_id, None)


class _DoorKeys:
    """The keys the codes of one judgement name, read once a second at most per key."""

    def __init__(self, session: Session):
        self._session = session
        self._known = _KNOWN_KEYS.setdefault(session.get_bind(), {})

    def get(self, key_id: str) -> DoorKey | None:
        now = time.monotonic()
        known = self._known.get(key_id)
        if known is not None and (known[0].retired or now - known[1] < KEY_RECHECK_SECONDS):
            return known[0]
        row = self._session.get(PublicKey, key_id)
        if row is None:
            return None
        key = DoorKey(
            event_id=row.event_id,
            public_key=load_public_key(row.public_key) if row.public_key else None,
            retired=row.retired_at is not None,
        )
        self._known[key_id] = (key, now)
        return key


def ticket_view(ticket: RosterTicket, event: EventInfo) -> dict:
    return {
        "id": ticket.id,
        "event_id": ticket.event_id,
        "attendee_name": ticket.attendee_name,
        "ticket_type_id": ticket.ticket_type_id,
        "ticket_type_name": (event.ticket_type_names or {}).get(ticket.ticket_type_id, ""),
    }


def previous_view(admission, gate: str) -> dict:
    """When and at which gate an admission was made (an Admission row or a judgement's)."""
    return {
        "scanned_at": admission.admitted_at.isoformat(),
        "list_id": admission.list_id,
        "gate": gate,
        "scan_id": admission.scan_id,
    }
