from services.ticketing import service
from shared.db import UnitOfWork


def on_event_changed(uow: UnitOfWork, data: dict) -> None:
    service.record_event(uow, data)


def on_registration_confirmed(uow: UnitOfWork, data: dict) -> None:
    service.issue_ticket(uow, data)


def on_registration_cancelled(uow: UnitOfWork, data: dict) -> None:
    service.revoke_registration_ticket(uow, str(data["registration_id"]), service.CANCELLED)


def on_registration_erased(uow: UnitOfWork, data: dict) -> None:
    service.erase_attendee(uow, str(data["registration_id"]))


HANDLERS = {
    "event.published": on_event_changed,
    "event.updated": on_event_changed,
    "registration.confirmed": on_registration_confirmed,
    "registration.cancelled": on_registration_cancelled,
    "registration.erased": on_registration_erased,
}
