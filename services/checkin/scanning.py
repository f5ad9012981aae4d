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

Three parts: scan_loading.py reads what the scans need, judging.py decides (without a
database), scan_writing.py writes what it decided; the records they pass are in
scan_records.py.
"""

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Table
from sqlalchemy.orm import Session

from services.checkin import scan_loading, scan_writing
from services.checkin.judging import judge_scans
from services.checkin.scan_records import ScanRequest, answer_json
from shared.auth import Principal


class LostRace(Exception):
    """Another door wrote the row this judgement relied on first; judge again."""


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
    connection = session.connection()
    answers = (
        scan_loading.recorded_answers(connection, principal, list(first_of))
        if look_up_scan_ids
        else {}
    )
    fresh = [request for scan_id, request in first_of.items() if scan_id not in answers]
    judged = judge_scans(scan_loading.door_state(session, fresh), principal, fresh, now, offline)
    lost = scan_writing.change_admissions(connection, principal, judged)
    if lost is not None:
        raise LostRace(lost)
    for scan_id, judgement in judged.judgements.items():
        answers[scan_id] = answer_json(scan_id, judgement)
    return Outcome(
        [answers[request.scan_id] for request in requests],
        scan_writing.new_rows(principal, judged, first_of, answers, now),
        scan_writing.recorded_events(judged, first_of, now),
    )
