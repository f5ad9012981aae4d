from flask_smorest import Blueprint

from services.checkin import schemas, service
from shared.auth import ORGANISER, STAFF
from shared.http import current_principal, current_runtime, require_role

blp = Blueprint("checkin", __name__, description="Check-in lists and scans at the door")

DOOR = [{"bearer": []}]


@blp.route("/scans", methods=["POST"])
@require_role(STAFF, ORGANISER)
@blp.arguments(schemas.ScanIn)
@blp.response(200, schemas.ScanResult)
@blp.doc(security=DOOR)
def scan(fields):
    """Judge one scanned ticket (door staff or organiser)."""
    request = service.ScanRequest(
        scan_id=fields["scan_id"],
        payload=fields["payload"],
        list_id=str(fields["list_id"]) if fields["list_id"] else None,
        scanned_at=fields["scanned_at"],
        direction=fields["direction"],
    )
    return service.scan(current_runtime().unit_of_work(), current_principal(), request)


@blp.route("/events/<uuid:event_id>/lists")
@require_role(STAFF, ORGANISER)
@blp.response(200, schemas.CheckinListOut(many=True))
@blp.doc(security=DOOR)
def list_checkin_lists(event_id):
    """The check-in lists (gates, areas) of an event."""
    with current_runtime().session_factory() as session:
        return service.event_lists(session, current_principal(), str(event_id))


@blp.route("/tickets/<uuid:ticket_id>")
@require_role(STAFF, ORGANISER)
@blp.response(200, schemas.RosterTicketOut)
@blp.doc(security=DOOR)
def get_roster_ticket(ticket_id):
    """A ticket in the door's roster, with its admissions."""
    with current_runtime().session_factory() as session:
        return service.roster_ticket(session, current_principal(), str(ticket_id))
