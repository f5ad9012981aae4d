"""Door devices: an organiser shows a short pairing code once; the device trades it for a
staff token scoped to that event's lists. No Flask, no broker."""

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import Table, func, select, update
from sqlalchemy.orm import Session

from services.checkin.models import CheckinList, Device, EventInfo, PairingCode, Scan
from shared.auth import STAFF, Principal, new_token, revoke_token, store_token, token_digest
from shared.errors import N_, NotFound

PAIRING_CODE_LIFETIME = timedelta(minutes=10)
# No 0/O, 1/I/L: read off a screen and typed on a phone.
PAIRING_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
PAIRING_CODE_LENGTH = 8


def normalised_code(code: str) -> str:
    """The code as staff may type it: any case, with or without the dash or spaces."""
    return "".join(code.split()).replace("-", "").upper()


def _code_digest(code: str) -> str:
    return hashlib.sha256(normalised_code(code).encode()).hexdigest()


def create_pairing_code(
    session: Session, principal: Principal, checkin_list: CheckinList, now: datetime
) -> dict:
    raw = "".join(secrets.choice(PAIRING_ALPHABET) for _ in range(PAIRING_CODE_LENGTH))
    code = f"{raw[:4]}-{raw[4:]}"
    expires_at = now + PAIRING_CODE_LIFETIME
    session.add(
        PairingCode(
            code_sha256=_code_digest(code),
            organisation_id=principal.organisation_id,
            event_id=checkin_list.event_id,
            list_id=checkin_list.id,
            created_at=now,
            expires_at=expires_at,
        )
    )
    return {
        "code": code,
        "expires_at": expires_at,
        "event_id": checkin_list.event_id,
        "list_id": checkin_list.id,
    }


def redeem_pairing_code(
    session: Session, tokens: Table, code: str, device_name: str, now: datetime
) -> dict:
    """Use the code up (at most once, decided by the database) and make the device's token."""
    digest = _code_digest(code)
    used = session.execute(
        update(PairingCode)
        .where(
            PairingCode.code_sha256 == digest,
            PairingCode.redeemed_at.is_(None),
            PairingCode.expires_at > now,
        )
        .values(redeemed_at=now)
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:
        raise NotFound(N_("This pairing code is unknown, used or expired; ask for a new one."))
    pairing = session.get(PairingCode, digest)
    token = new_token()
    store_token(session, tokens, token, Principal(STAFF, pairing.organisation_id, pairing.event_id))
    device = Device(
        token_sha256=token_digest(token),
        organisation_id=pairing.organisation_id,
        event_id=pairing.event_id,
        list_id=pairing.list_id,
        name=device_name,
        paired_at=now,
    )
    session.add(device)
    session.flush()
    event = session.get(EventInfo, pairing.event_id)
    checkin_list = session.get(CheckinList, pairing.list_id)
    return {
        "token": token,
        "device_id": device.id,
        "event_id": event.id,
        "event_title": event.title,
        "event_texts": event.texts or {},
        "list_id": checkin_list.id,
        "list_name": checkin_list.name,
    }


def event_devices(session: Session, event_id: str) -> list[Device]:
    return list(
        session.scalars(
            select(Device).where(Device.event_id == event_id).order_by(Device.paired_at)
        )
    )


def revoke_device(session: Session, tokens: Table, device: Device, now: datetime) -> Device:
    if device.revoked_at is None:
        device.revoked_at = now
        revoke_token(session, tokens, device.token_sha256)
    return device


def organised_device(session: Session, principal: Principal, device_id: str) -> Device:
    device = session.get(Device, device_id)
    if device is None or not principal.may_open(device.organisation_id, device.event_id):
        raise NotFound(N_("No such device."))
    return device


def last_scans(session: Session, devices: list[Device]) -> dict[str, datetime]:
    """When each device's last scan was recorded, by device id (a device that never
    scanned has none): a scan's sender is its device's token digest."""
    by_token = {device.token_sha256: device.id for device in devices}
    if not by_token:
        return {}
    rows = session.execute(
        select(Scan.scope, func.max(Scan.recorded_at))
        .where(
            Scan.organisation_id == devices[0].organisation_id,
            Scan.scope.in_(sorted(by_token)),
        )
        .group_by(Scan.scope)
    )
    return {by_token[scope]: recorded_at for scope, recorded_at in rows}
