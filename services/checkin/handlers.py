from services.checkin import service
from shared.db import UnitOfWork


def on_event_changed(uow: UnitOfWork, data: dict) -> None:
    service.record_event(uow, data)


def on_ticket_issued(uow: UnitOfWork, data: dict) -> None:
    service.add_to_roster(uow, data)


def on_ticket_revoked(uow: UnitOfWork, data: dict) -> None:
    service.revoke(uow, data)


def on_signing_key_retired(uow: UnitOfWork, data: dict) -> None:
    service.retire_key(uow, data)


def on_registration_erased(uow: UnitOfWork, data: dict) -> None:
    service.erase_attendee(uow, data)


HANDLERS = {
    "event.published": on_event_changed,
    "event.updated": on_event_changed,
    "ticket.issued": on_ticket_issued,
    "ticket.revoked": on_ticket_revoked,
    "signing_key.retired": on_signing_key_retired,
    "registration.erased": on_registration_erased,
}
