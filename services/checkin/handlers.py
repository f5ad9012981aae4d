from services.checkin import service
from services.checkin.models import tables
from shared.db import Transaction
from shared.identity import identity_handlers


def on_event_changed(tx: Transaction, data: dict) -> None:
    service.record_event(tx, data)


def on_ticket_issued(tx: Transaction, data: dict) -> None:
    service.add_to_roster(tx, data)


def on_ticket_revoked(tx: Transaction, data: dict) -> None:
    service.revoke(tx, data)


def on_signing_key_retired(tx: Transaction, data: dict) -> None:
    service.retire_key(tx, data)


def on_registration_erased(tx: Transaction, data: dict) -> None:
    service.erase_attendee(tx, data)


HANDLERS = {
    **identity_handlers(tables.identity),
    "event.published": on_event_changed,
    "event.updated": on_event_changed,
    "ticket.issued": on_ticket_issued,
    "ticket.revoked": on_ticket_revoked,
    "signing_key.retired": on_signing_key_retired,
    "registration.erased": on_registration_erased,
}
