"""Writing what a judgement decided: the admissions it changed, each on condition that
nobody changed it since it was read, the scans it superseded, and the rows it adds (new
admissions, every scan with its answer) with the checkin.recorded data to publish. No Flask,
no broker."""

from datetime import datetime

from sqlalchemy import Table, update
from sqlalchemy.engine import Connection

from services.checkin.judging import Judged
from services.checkin.models import Admission, Scan
from services.checkin.scan_records import ScanRequest
from shared.auth import Principal


def change_admissions(connection: Connection, principal: Principal, judged: Judged) -> str | None:
    """Update the admissions `judged` changed, each only while it is still as it was read,
    then mark the scans it superseded. Returns the id of an admission another door changed
    in between (nothing more is written then: the caller judges again), else None."""
    for read, now in judged.changed_admissions:
        unchanged_since = Admission.scan_id == read.scan_id
        if read.exited_at is None:
            unchanged_since &= Admission.exited_at.is_(None)
        result = connection.execute(
            update(Admission)
            .where(Admission.id == now.id, unchanged_since)
            .values(
                scan_id=now.scan_id,
                admitted_at=now.admitted_at,
                exited_at=now.exited_at,
                exit_scan_id=now.exit_scan_id,
            )
        )
        if result.rowcount != 1:
            return now.id
    for superseded in judged.superseded:
        connection.execute(
            update(Scan)
            .where(
                Scan.organisation_id == principal.organisation_id,
                Scan.list_id == superseded.list_id,
                Scan.ticket_id == superseded.ticket_id,
                Scan.scan_id == superseded.scan_id,
            )
            .values(superseded_by=superseded.by)
        )
    return None


def new_rows(
    principal: Principal,
    judged: Judged,
    requests: dict[str, ScanRequest],
    answers: dict[str, dict],
    now: datetime,
) -> list[tuple[Table, list[dict]]]:
    """The rows to insert, by table: the new admissions, and each judged scan (`requests` and
    `answers` by scan id) with its answer, kept for a retry of its scan id."""
    admissions = [
        {
            "id": entry.id,
            "list_id": entry.list_id,
            "ticket_id": entry.ticket_id,
            "entry_key": entry.entry_key,
            "scan_id": entry.scan_id,
            "admitted_at": entry.admitted_at,
            "exited_at": entry.exited_at,
            "exit_scan_id": entry.exit_scan_id,
        }
        for entry in judged.new_admissions
    ]
    scans = []
    for scan_id, judgement in judged.judgements.items():
        request, checkin_list, ticket = requests[scan_id], judgement.checkin_list, judgement.ticket
        scans.append(
            {
                "organisation_id": principal.organisation_id,
                "scope": principal.subject,
                "scan_id": scan_id,
                "event_id": checkin_list.event_id if checkin_list is not None else None,
                "list_id": checkin_list.id if checkin_list is not None else None,
                "ticket_id": ticket.id if ticket is not None else None,
                "verdict": judgement.verdict.value,
                "direction": request.direction,
                "manual": request.ticket_id is not None,
                "scanned_at": request.made_at(now),
                "recorded_at": now,
                "answer": answers[scan_id],
            }
        )
    return [(Admission.__table__, admissions), (Scan.__table__, scans)]


def recorded_events(judged: Judged, requests: dict[str, ScanRequest], now: datetime) -> list[dict]:
    """The data of checkin.recorded for each judged scan of a known ticket."""
    return [
        {
            "scan_id": scan_id,
            "ticket_id": judgement.ticket.id,
            "registration_id": judgement.ticket.registration_id,
            "event_id": judgement.ticket.event_id,
            "list_id": judgement.checkin_list.id,
            "verdict": judgement.verdict.value,
            "direction": requests[scan_id].direction,
            "scanned_at": requests[scan_id].made_at(now),
        }
        for scan_id, judgement in judged.judgements.items()
        if judgement.ticket is not None
    ]
