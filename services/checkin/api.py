import json
from functools import wraps

from flask import Response, jsonify, request

from services.checkin import schemas, service
from services.checkin.compressed_uploads import MAX_INFLATED_BYTES
from services.checkin.scan_records import ScanRequest
from shared.auth import ATTENDEES, DOORS, READ, SCAN, Principal
from shared.http import Blueprint, current_principal, current_runtime, require

blp = Blueprint("checkin", __name__, description="Check-in lists, door devices and scans")

BEARER = [{"bearer": []}]


def _scan_request(fields: dict) -> ScanRequest:
    return ScanRequest(
        scan_id=fields["scan_id"],
        payload=fields.get("payload"),
        ticket_id=str(fields["ticket_id"]) if fields.get("ticket_id") else None,
        list_id=str(fields["list_id"]) if fields["list_id"] else None,
        scanned_at=fields["scanned_at"],
        direction=fields["direction"],
    )


def _reads_large_batches(view):
    """Let the batch upload read an inflated gzip body (compressed_uploads) past the 1 MiB
    every other view reads."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        request.max_content_length = MAX_INFLATED_BYTES
        return view(*args, **kwargs)

    return wrapper


# --- scans -------------------------------------------------------------------------------


@blp.route("/scans", methods=["POST"])
@require(SCAN)
@blp.arguments(schemas.ScanIn)
@blp.response(200, schemas.ScanResult)
@blp.doc(security=BEARER)
def scan(fields):
    """Judge one scanned ticket (door staff or organiser)."""
    runtime = current_runtime()
    return service.scan(runtime.unit_of_work(), current_principal(), _scan_request(fields))


@blp.route("/scans/manual", methods=["POST"])
@require(SCAN)
@blp.arguments(schemas.ManualScanIn)
@blp.response(200, schemas.ScanResult)
@blp.doc(security=BEARER)
def manual_scan(fields):
    """Check a ticket in by its id, found by a search, when its code will not scan."""
    runtime = current_runtime()
    return service.scan(runtime.unit_of_work(), current_principal(), _scan_request(fields))


@blp.route("/scans/batch", methods=["POST"])
@require(SCAN)
@_reads_large_batches
@blp.arguments(schemas.BatchIn)
@blp.response(200, schemas.BatchOut)
@blp.doc(security=BEARER)
def scan_batch(fields):
    """Upload scans made offline; the answers come in the same order. A body over 1 MiB
    (about 3,000 scans) is sent with Content-Encoding: gzip."""
    runtime = current_runtime()
    requests = [_scan_request(item) for item in fields["scans"]]
    results = service.scan_batch(runtime.unit_of_work(), current_principal(), requests)
    # The answers go as the judgement built them, JSON-ready as BatchOut would dump them:
    # scan_records.answer_json says what that buys.
    return jsonify({"results": results})


# --- the roster --------------------------------------------------------------------------


@blp.route("/events/<uuid:event_id>/bundle")
@require(SCAN)
@blp.response(200, schemas.BundleOut)
@blp.doc(security=BEARER)
def offline_bundle(event_id):
    """Everything a door device needs to keep scanning offline."""
    with current_runtime().session_factory() as session:
        return service.offline_bundle(session, current_principal(), str(event_id))


@blp.route("/events/<uuid:event_id>/tickets")
@require(SCAN)
@blp.arguments(schemas.SearchArgs, location="query")
@blp.response(200, schemas.RosterTicketOut(many=True))
@blp.doc(security=BEARER)
def search_tickets(args, event_id):
    """Find tickets by part of a name, a whole email, or the start of the ticket code
    (at most 30 searches a minute per device)."""
    with current_runtime().session_factory() as session:
        return service.search_tickets(session, current_principal(), str(event_id), args["q"])


@blp.route("/tickets/<uuid:ticket_id>")
@require(SCAN)
@blp.response(200, schemas.RosterTicketOut)
@blp.doc(security=BEARER)
def get_roster_ticket(ticket_id):
    """A ticket in the door's roster, with its admissions."""
    with current_runtime().session_factory() as session:
        return service.roster_ticket(session, current_principal(), str(ticket_id))


# --- check-in lists ----------------------------------------------------------------------


@blp.route("/events/<uuid:event_id>/lists", methods=["GET"])
@require(READ | SCAN)
@blp.response(200, schemas.CheckinListOut(many=True))
@blp.doc(security=BEARER)
def list_checkin_lists(event_id):
    """The check-in lists (gates, areas) of an event."""
    with current_runtime().session_factory() as session:
        return service.event_lists(session, current_principal(), str(event_id))


@blp.route("/events/<uuid:event_id>/lists", methods=["POST"])
@require(DOORS)
@blp.arguments(schemas.ListIn)
@blp.response(201, schemas.CheckinListOut)
@blp.doc(security=BEARER)
def create_checkin_list(fields, event_id):
    """Add a gate or area: its ticket types, entry window and re-entry policy."""
    runtime = current_runtime()
    return service.create_list(runtime.unit_of_work(), current_principal(), str(event_id), fields)


@blp.route("/lists/<uuid:list_id>", methods=["PATCH"])
@require(DOORS)
@blp.arguments(schemas.ListChanges)
@blp.response(200, schemas.CheckinListOut)
@blp.doc(security=BEARER)
def update_checkin_list(fields, list_id):
    """Change a list's rules; scans already judged keep their answers."""
    runtime = current_runtime()
    return service.update_list(runtime.unit_of_work(), current_principal(), str(list_id), fields)


@blp.route("/lists/<uuid:list_id>", methods=["DELETE"])
@require(DOORS)
@blp.response(204)
@blp.doc(security=BEARER)
def delete_checkin_list(list_id):
    """Remove a list that has no scans yet."""
    service.delete_list(current_runtime().unit_of_work(), current_principal(), str(list_id))


# --- door devices ------------------------------------------------------------------------


@blp.route("/lists/<uuid:list_id>/pairing-codes", methods=["POST"])
@require(DOORS)
@blp.response(201, schemas.PairingCodeOut)
@blp.doc(security=BEARER)
def create_pairing_code(list_id):
    """A short single-use code that pairs one door device with this list's event."""
    runtime = current_runtime()
    return service.create_pairing_code(runtime.unit_of_work(), current_principal(), str(list_id))


@blp.route("/pairing-codes/redeem", methods=["POST"])
@blp.arguments(schemas.RedeemIn)
@blp.response(201, schemas.PairedDeviceOut)
def redeem_pairing_code(fields):
    """A door device trades a pairing code for its staff token (no other auth)."""
    runtime = current_runtime()
    return service.redeem_pairing_code(
        runtime.unit_of_work(), runtime.tables.tokens, fields["code"], fields["device_name"]
    )


@blp.route("/events/<uuid:event_id>/devices")
@require(READ)
@blp.response(200, schemas.DeviceOut(many=True))
@blp.doc(security=BEARER)
def list_devices(event_id):
    """The door devices paired to an event, revoked ones included."""
    with current_runtime().session_factory() as session:
        return service.event_devices(session, current_principal(), str(event_id))


@blp.route("/devices/<uuid:device_id>/revoke", methods=["POST"])
@require(DOORS)
@blp.response(200, schemas.DeviceOut)
@blp.doc(security=BEARER)
def revoke_device(device_id):
    """Revoke a device's token: refused from its next request on (within 5 seconds on
    the service's other processes)."""
    runtime = current_runtime()
    device = service.revoke_device(
        runtime.unit_of_work(), current_principal(), runtime.tables.tokens, str(device_id)
    )
    runtime.recent_tokens.forget_all()
    return device


# --- the organiser's dashboard -----------------------------------------------------------


@blp.route("/events/<uuid:event_id>/stats")
@require(READ)
@blp.response(200, schemas.StatsOut)
@blp.doc(security=BEARER)
def event_stats(event_id):
    """Checked in and inside, per list and ticket type, and arrivals per five minutes."""
    with current_runtime().session_factory() as session:
        return service.event_stats(session, current_principal(), str(event_id))


@blp.route("/events/<uuid:event_id>/stats/live")
@require(READ)
@blp.arguments(schemas.LiveArgs, location="query")
@blp.response(200, description="Server-sent events `stats`", content_type="text/event-stream")
@blp.doc(security=BEARER)
def event_stats_live(args, event_id):
    """The stats again whenever a scan is recorded, as server-sent events; the stream ends
    after at most five minutes and the browser reconnects."""
    return live_stats_stream(current_principal(), str(event_id), args["max_seconds"])


def live_stats_stream(principal: Principal, event_id: str, max_seconds: float) -> Response:
    """The live stats as a streamed response, for the API and the organiser pages alike."""
    events = service.stats_events(
        current_runtime().session_factory,
        principal,
        event_id,
        lambda stats: json.dumps(schemas.StatsOut().dump(stats), ensure_ascii=False),
        max_seconds,
    )
    return Response(
        events,
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@blp.route("/events/<uuid:event_id>/scans.csv")
@require(ATTENDEES)
@blp.response(200, description="UTF-8 with a byte order mark", content_type="text/csv")
@blp.doc(security=BEARER)
def scans_csv(event_id):
    """Every scan of the event as CSV, oldest first."""
    return scans_csv_download(current_principal(), str(event_id))


def scans_csv_download(principal: Principal, event_id: str) -> Response:
    """The scans' CSV as a file to save, for the API and the organiser pages alike."""
    with current_runtime().session_factory() as session:
        text = service.scans_csv(session, principal, event_id)
    return Response(
        text,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="scans-{event_id}.csv"'},
    )
