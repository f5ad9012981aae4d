"""What a scan is judged on and what it is judged to: the request, the door's records of
tickets, events, lists, admissions and keys (read by their column names, scan_loading.py and
door_keys.py), and the verdict with what its answer shows. Plain data, no database."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from shared.tokens import TicketClaims

IN, OUT = "in", "out"
DIRECTIONS = (IN, OUT)


class Verdict(StrEnum):
    """What a scan answers (DESIGN.md, "Check-in verdicts")."""

    OK = "ok"
    ALREADY_CHECKED_IN = "already_checked_in"
    REVOKED = "revoked"
    INVALID = "invalid"
    UNKNOWN_TICKET = "unknown_ticket"
    WRONG_EVENT = "wrong_event"
    NOT_ALLOWED_HERE = "not_allowed_here"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"


@dataclass(frozen=True)
class ScanRequest:
    """A scanned code (`payload`) or, for a manual check-in, a ticket id from a search."""

    scan_id: str
    payload: str | None = None
    ticket_id: str | None = None
    list_id: str | None = None
    scanned_at: datetime | None = None
    direction: str = IN

    def made_at(self, now: datetime) -> datetime:
        """When the scan was made: `scanned_at`, else `now` (an online scan sends none)."""
        return self.scanned_at or now


class DoorTicket(NamedTuple):
    """A ticket of the roster, as a judgement reads it."""

    id: str
    event_id: str
    registration_id: str
    ticket_type_id: str
    attendee_name: str
    valid_from: datetime
    valid_until: datetime
    revoked_at: datetime | None
    # The digest of the very token ticketing issued; None from producers that predate it.
    token_sha256: str | None


class DoorEvent(NamedTuple):
    """An event, as a judgement reads it."""

    id: str
    organisation_id: str
    timezone: str
    ticket_type_names: dict | None

    def ticket_type_name(self, ticket_type_id: str) -> str:
        return ticket_type_name(self.ticket_type_names, ticket_type_id)


def ticket_type_name(names: dict | None, ticket_type_id: str) -> str:
    """The name an event gave a ticket type; empty for a type it no longer announces."""
    return (names or {}).get(ticket_type_id, "")


class DoorList(NamedTuple):
    """A check-in list, as a judgement reads it."""

    id: str
    event_id: str
    name: str
    ticket_type_ids: list | None
    opens_at: datetime | None
    closes_at: datetime | None
    reentry: str


class Entry(NamedTuple):
    """An admission: a ticket's entry on a list (`gate` is the list's name) from its entry
    scan to its exit, if any."""

    id: str
    list_id: str
    ticket_id: str
    entry_key: str
    scan_id: str
    admitted_at: datetime
    gate: str
    exited_at: datetime | None = None
    # None with exited_at set: closed by the next day's entry, not by an exit scan.
    exit_scan_id: str | None = None


@dataclass(frozen=True)
class DoorKey:
    """A signing key as the door trusts it: for tokens of its own event, until retired."""

    event_id: str
    public_key: Ed25519PublicKey | None
    retired: bool


@dataclass(frozen=True)
class CheckedCode:
    """A scanned code as the door read it: the claims of a genuine code, or why it is
    refused (`refusal`, with no claims)."""

    claims: TicketClaims | None = None
    refusal: Verdict | None = None


class EntryWindow(NamedTuple):
    """When a ticket may enter through a list: its own validity narrowed by the list's."""

    opens_at: datetime
    closes_at: datetime


@dataclass(frozen=True)
class Judgement:
    """A scan's verdict, the list it was judged on (recorded with the scan) and what its
    answer shows: a known ticket with its ticket type's name, the admission that came first
    (`previous`, already_checked_in) or that this earlier offline scan took over
    (`displaced`), the entry window (not_yet_valid, expired), and whether an exit scan found
    the ticket inside."""

    verdict: Verdict
    checkin_list: DoorList | None = None
    ticket: DoorTicket | None = None
    ticket_type_name: str = ""
    previous: Entry | None = None
    displaced: Entry | None = None
    window: EntryWindow | None = None
    was_inside: bool | None = None


def answer_json(scan_id: str, judgement: Judgement) -> dict:
    """The scan's answer as the ScanResult schema would dump it, built by hand (a test holds
    the two equal): it is stored with the scan, so that a retried scan id answers it again,
    and the batch upload sends it as it is, where dumping 10,000 answers through marshmallow
    would cost a tenth of the upload's time. Keys keep the order the door has always sent."""
    answer = {"scan_id": scan_id, "verdict": judgement.verdict.value}
    ticket = judgement.ticket
    if ticket is None:
        return answer
    if judgement.previous is not None:
        answer["previous"] = _entry_json(judgement.previous)
    if judgement.displaced is not None:
        answer["displaced"] = _entry_json(judgement.displaced)
    answer["ticket"] = {
        "id": ticket.id,
        "event_id": ticket.event_id,
        "attendee_name": ticket.attendee_name,
        "ticket_type_id": ticket.ticket_type_id,
        "ticket_type_name": judgement.ticket_type_name,
    }
    answer["list_id"] = judgement.checkin_list.id
    if judgement.window is not None:
        answer["window"] = {
            "opens_at": judgement.window.opens_at.isoformat(),
            "closes_at": judgement.window.closes_at.isoformat(),
        }
    if judgement.was_inside is not None:
        answer["was_inside"] = judgement.was_inside
    return answer


def _entry_json(entry: Entry) -> dict:
    return {
        "scanned_at": entry.admitted_at.isoformat(),
        "list_id": entry.list_id,
        "gate": entry.gate,
        "scan_id": entry.scan_id,
    }
