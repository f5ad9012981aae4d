"""Reading what a judgement needs, set-wise: a handful of queries for a batch of thousands of
scans, one for an online scan of a roster ticket whose key is known. Core statements on the
session's connection, in its transaction: the ORM's execution and objects cost more than
the door's queries, and a judgement changes nothing through them. Rows become the records of
scan_records.py by their columns' labels. No Flask, no broker."""

from collections import defaultdict
from collections.abc import Iterable
from operator import itemgetter

from sqlalchemy import ColumnElement, Table, bindparam, select
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.orm import Session

from services.checkin.door_keys import door_keys
from services.checkin.judging import DoorState, checked_code
from services.checkin.models import Admission, CheckinList, EventInfo, RosterTicket, Scan
from services.checkin.scan_records import DoorEvent, DoorList, DoorTicket, Entry, ScanRequest
from shared.auth import Principal
from shared.tokens import InvalidTicketToken, ReadToken, read_ticket

# Rows asked for in one IN (...) clause; SQLite and PostgreSQL both cap bound parameters.
_CHUNK = 2000


class _Labelled:
    """The columns a record type is read from, labelled `<prefix>_<field>` so that a row of
    a query joining several tables is read by name. Each field comes from the column of
    `table` with its name, unless `columns` names another."""

    def __init__(self, record_type: type, prefix: str, table: Table, **columns: ColumnElement):
        self._make = record_type._make
        labels = [f"{prefix}_{name}" for name in record_type._fields]
        self.columns = [
            (columns[name] if name in columns else table.c[name]).label(label)
            for name, label in zip(record_type._fields, labels, strict=True)
        ]
        # One call for all of a record's values: the door reads thousands of rows a batch.
        self._values = itemgetter(*labels)

    def record(self, row: RowMapping):
        """The record in `row`; None where an outer join found nothing."""
        values = self._values(row)
        if values[0] is None:
            return None
        return self._make(values)


_TICKETS, _EVENTS, _LISTS, _ADMISSIONS = (
    RosterTicket.__table__,
    EventInfo.__table__,
    CheckinList.__table__,
    Admission.__table__,
)
_DEFAULT_LISTS = _LISTS.alias("default_list")
_ADMITTED_ON = _LISTS.alias("admitted_on")
_TICKET = _Labelled(DoorTicket, "ticket", _TICKETS)
_EVENT = _Labelled(DoorEvent, "event", _EVENTS)
_LIST = _Labelled(DoorList, "list", _LISTS)
_DEFAULT_LIST = _Labelled(DoorList, "default_list", _DEFAULT_LISTS)
_ENTRY = _Labelled(Entry, "admission", _ADMISSIONS, gate=_ADMITTED_ON.c.name)

# The statements of every judgement, built once: building them per scan costs more CPU than
# running them. Each takes its ids as the expanding parameter "ids".
_IDS = bindparam("ids", expanding=True)
_RECORDED_ANSWERS = select(Scan.scan_id, Scan.answer).where(
    Scan.organisation_id == bindparam("organisation"),
    Scan.scope == bindparam("scope"),
    Scan.scan_id.in_(_IDS),
)
_CHOSEN_LISTS = select(*_LIST.columns).where(_LISTS.c.id.in_(_IDS))
_WITH_DEFAULT_LIST = (_DEFAULT_LISTS.c.event_id == _EVENTS.c.id) & (
    _DEFAULT_LISTS.c.is_default.is_(True)
)
# A ticket with its event, the event's default list and its admissions with their gates:
# one round trip for what an online scan reads.
_TICKETS_WITH_STATE = (
    select(*_TICKET.columns, *_EVENT.columns, *_DEFAULT_LIST.columns, *_ENTRY.columns)
    .select_from(_TICKETS)
    .join(_EVENTS, _EVENTS.c.id == _TICKETS.c.event_id)
    .outerjoin(_DEFAULT_LISTS, _WITH_DEFAULT_LIST)
    .outerjoin(_ADMISSIONS, _ADMISSIONS.c.ticket_id == _TICKETS.c.id)
    .outerjoin(_ADMITTED_ON, _ADMITTED_ON.c.id == _ADMISSIONS.c.list_id)
    .where(_TICKETS.c.id.in_(_IDS))
    .order_by(_ADMISSIONS.c.admitted_at)
)
_EVENTS_WITH_DEFAULT_LIST = (
    select(*_EVENT.columns, *_DEFAULT_LIST.columns)
    .select_from(_EVENTS)
    .outerjoin(_DEFAULT_LISTS, _WITH_DEFAULT_LIST)
    .where(_EVENTS.c.id.in_(_IDS))
)


def recorded_answers(
    connection: Connection, principal: Principal, scan_ids: list[str]
) -> dict[str, dict]:
    """The first answers of the scan ids this sender used before, by scan id."""
    rows = _rows_in(
        connection,
        _RECORDED_ANSWERS,
        scan_ids,
        organisation=principal.organisation_id,
        scope=principal.subject,
    )
    return {row["scan_id"]: row["answer"] for row in rows}


def door_state(session: Session, requests: list[ScanRequest]) -> DoorState:
    """What judging `requests` needs: the tickets they name with their events, default lists
    and admissions (one query per chunk of ids), the keys their codes name (when not read
    within the last KEY_RECHECK_SECONDS), the lists they chose, and the events neither
    brought (of genuine codes not in the roster, of chosen lists)."""
    connection = session.connection()
    payloads = {r.scan_id: r.payload for r in requests if r.payload is not None}
    read = {scan_id: _read(payload) for scan_id, payload in payloads.items()}
    readable = [token for token in read.values() if token is not None]
    ticket_ids = {str(token.claims.ticket_id) for token in readable}
    ticket_ids |= {request.ticket_id for request in requests if request.ticket_id is not None}
    tickets: dict[str, DoorTicket] = {}
    events: dict[str, DoorEvent] = {}
    default_lists: dict[str, DoorList] = {}
    admissions: dict[tuple[str, str], list[Entry]] = defaultdict(list)
    for row in _rows_in(connection, _TICKETS_WITH_STATE, ticket_ids):
        ticket = tickets.get(row["ticket_id"]) or _TICKET.record(row)
        tickets[ticket.id] = ticket
        if ticket.event_id not in events:
            _know_event(row, events, default_lists)
        entry = _ENTRY.record(row)
        if entry is not None:
            admissions[(entry.list_id, entry.ticket_id)].append(entry)
    keys = door_keys(session, [token.claims.key_id for token in readable])
    codes = {
        scan_id: checked_code(payloads[scan_id], token, keys, tickets)
        for scan_id, token in read.items()
    }
    list_ids = {request.list_id for request in requests if request.list_id is not None}
    lists = {
        chosen.id: chosen
        for chosen in map(_LIST.record, _rows_in(connection, _CHOSEN_LISTS, list_ids))
    }
    event_ids = {str(code.claims.event_id) for code in codes.values() if code.claims}
    event_ids |= {chosen.event_id for chosen in lists.values()}
    if missing := event_ids - set(events):
        for row in _rows_in(connection, _EVENTS_WITH_DEFAULT_LIST, missing):
            _know_event(row, events, default_lists)
    return DoorState(codes, tickets, events, lists, default_lists, dict(admissions))


def _read(payload: str) -> ReadToken | None:
    try:
        return read_ticket(payload)
    except InvalidTicketToken:
        return None


def _know_event(
    row: RowMapping, events: dict[str, DoorEvent], default_lists: dict[str, DoorList]
) -> None:
    event = _EVENT.record(row)
    events[event.id] = event
    default = _DEFAULT_LIST.record(row)
    if default is not None:
        default_lists[event.id] = default


def _rows_in(connection: Connection, statement, ids: Iterable, **parameters) -> list[RowMapping]:
    """The rows of `statement` for `ids` (its expanding "ids" parameter), a chunk at a time."""
    ids = list(dict.fromkeys(ids))
    rows = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        rows += connection.execute(statement, {"ids": chunk, **parameters}).mappings().all()
    return rows
