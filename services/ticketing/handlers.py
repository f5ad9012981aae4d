from services.ticketing import service
from services.ticketing.models import tables
from services.ticketing.ticket_record import CANCELLED
from shared.db import Transaction
from shared.identity import identity_handlers


def on_event_changed(tx: Transaction, data: dict) -> None:
    service.record_event(tx, data)


def on_registration_confirmed(tx: Transaction, data: dict) -> None:
    service.issue_ticket(tx, data)


def on_registration_cancelled(tx: Transaction, data: dict) -> None:
    service.revoke_registration_ticket(tx, str(data["registration_id"]), CANCELLED)


def on_registration_erased(tx: Transaction, data: dict) -> None:
    service.erase_attendee(tx, str(data["registration_id"]))


HANDLERS = {
    **identity_handlers(tables.identity),
    "event.published": on_event_changed,
    "event.updated": on_event_changed,
    "registration.confirmed": on_registration_confirmed,
    "registration.cancelled": on_registration_cancelled,
    "registration.erased": on_registration_erased,
}
