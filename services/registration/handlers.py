from services.registration import service
from shared.db import UnitOfWork


def on_checkin_recorded(uow: UnitOfWork, data: dict) -> None:
    if data["verdict"] == "ok" and data["direction"] == "in":
        service.record_arrival(uow, str(data["registration_id"]), data["scanned_at"])


HANDLERS = {"checkin.recorded": on_checkin_recorded}
