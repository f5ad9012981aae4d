"""The optional second step of signing in: a code from an authenticator app (TOTP, RFC 6238,
through pyotp), or one of ten recovery codes for the day the phone is lost.

Turning it on makes a secret (sealed with the secret box, so a copied database gives no
one the codes) that is in use only once a code from it has been typed back, so a person
cannot lock themselves out with a secret their app never got. A code is taken once: the time
step it was taken at is kept, and an older or equal one is refused. Recovery codes are
random, kept only as digests, each taken once.
"""

import secrets
from datetime import UTC, datetime

import pyotp

from services.registration.models import Person
from shared.auth import secrets_equal, token_digest
from shared.db import Transaction
from shared.errors import N_, Conflict, InvalidRequest
from shared.secret_box import SecretBox

ISSUER = "Loopgate"
RECOVERY_CODES = 10
# A code from the step before or after the current one is still taken: phones' clocks drift.
DRIFT_STEPS = 1


def in_use(person: Person) -> bool:
    return person.totp_confirmed_at is not None


def start(tx: Transaction, person: Person) -> str:
    """A new secret for the person's app, not in use until confirmed; its otpauth:// URI,
    which the page shows as a QR code and as text."""
    if in_use(person):
        raise Conflict(N_("Two-step sign-in is on already."))
    secret = pyotp.random_base32()
    person.totp_secret_sealed = tx.secret_box.seal(secret.encode(), _sealed_as(person.id))
    return pyotp.TOTP(secret).provisioning_uri(name=person.email, issuer_name=ISSUER)


def pending_uri(box: SecretBox, person: Person) -> str | None:
    """The otpauth:// URI of a secret started but not yet confirmed."""
    if in_use(person) or person.totp_secret_sealed is None:
        return None
    secret = box.open(person.totp_secret_sealed, _sealed_as(person.id)).decode()
    return pyotp.TOTP(secret).provisioning_uri(name=person.email, issuer_name=ISSUER)


def confirm(tx: Transaction, person: Person, code: str) -> list[str]:
    """Put the secret in use with a code from it; the recovery codes, shown this once."""
    if in_use(person) or person.totp_secret_sealed is None:
        raise Conflict(N_("Start turning on two-step sign-in first."))
    if not _takes_code(tx, person, code):
        raise _wrong_code()
    person.totp_confirmed_at = datetime.now(UTC)
    codes = [secrets.token_hex(5) for _ in range(RECOVERY_CODES)]
    person.recovery_code_digests = [token_digest(code) for code in codes]
    return codes


def turn_off(tx: Transaction, person: Person, code: str) -> None:
    if not in_use(person):
        return
    if not passes(tx, person, code):
        raise _wrong_code()
    person.totp_secret_sealed = None
    person.totp_confirmed_at = None
    person.recovery_code_digests = None
    person.totp_last_step = None


def passes(tx: Transaction, person: Person, code: str | None) -> bool:
    """Whether `code` (from the app, or a recovery code) completes this person's sign-in; a
    recovery code is used up."""
    if not code:
        return False
    code = code.strip().replace(" ", "")
    if _takes_code(tx, person, code):
        return True
    digest = token_digest(code.lower())
    remaining = person.recovery_code_digests or []
    for kept in remaining:
        if secrets_equal(kept, digest):
            person.recovery_code_digests = [d for d in remaining if d != kept]
            return True
    return False


def _takes_code(tx: Transaction, person: Person, code: str) -> bool:
    if not (code.isdigit() and len(code) == 6):
        return False
    secret = tx.secret_box.open(person.totp_secret_sealed, _sealed_as(person.id)).decode()
    totp = pyotp.TOTP(secret)
    now = datetime.now(UTC)
    current = totp.timecode(now)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if secrets_equal(totp.generate_otp(step), code):
            if person.totp_last_step is not None and step <= person.totp_last_step:
                return False  # seen once already: a replay
            person.totp_last_step = step
            return True
    return False


def _wrong_code() -> InvalidRequest:
    return InvalidRequest(
        N_("That code is not right."),
        errors={"json": {"code": [N_("Enter the 6 digits your authenticator app shows now.")]}},
    )


def _sealed_as(person_id: str) -> str:
    return f"registration TOTP secret of {person_id}"
