from services.registration import service
from shared.db import Transaction
from shared.runtime import ServiceRuntime


def on_checkin_recorded(tx: Transaction, data: dict) -> None:
    if data["verdict"] == "ok" and data["direction"] == "in":
        service.record_arrival(tx, str(data["registration_id"]), data["scanned_at"])


def on_access_token_used(tx: Transaction, data: dict) -> None:
    service.record_token_use(tx, data["token_id"], data["used_at"])


HANDLERS = {
    "checkin.recorded": on_checkin_recorded,
    "access_token.used": on_access_token_used,  # from ticketing and check-in
}


# Periodic work of the registration worker (app.PERIODIC_TASKS).


def lapse_waitlist_offers(runtime: ServiceRuntime) -> None:
    service.lapse_waitlist_offers(runtime.unit_of_work())


def erase_after_retention(runtime: ServiceRuntime) -> None:
    service.erase_after_retention(runtime.unit_of_work())


def forget_expired_idempotency_keys(runtime: ServiceRuntime) -> None:
    service.forget_expired_idempotency_keys(runtime.unit_of_work())


def publish_identity_key(runtime: ServiceRuntime) -> None:
    service.publish_identity_key(runtime.unit_of_work())
