"""Ticketing's part of issue #14, each finding as the attack that now fails, on a whole
embedded Loopgate:

- A copied ticketing database (`<data dir>/ticketing.db`, read here byte for byte) holds no
  private signing key and no key that opens a ticket's page or images: private keys are sealed
  under the key-encryption key, and a QR key is kept only as its digest.
- `GET /api/ticketing/keys` tells nobody without an organiser token anything, and an organiser
  only of their own organisation's events.
- An erasure deletes the attendee's mail from the mailbox folder and leaves their address in
  no mail row.
- A database from before these changes is sealed when the instance starts, and the links
  already mailed keep working.
"""

from email import policy
from email.parser import BytesParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.ticketing.models import OutgoingMail, SigningKey, Ticket
from services.ticketing.ticket_secrets import open_private_key
from shared.auth import DEFAULT_ORGANISATION, ORGANISER, STAFF, Principal, ensure_token
from shared.tokens import load_public_key, read_ticket, sign_ticket, verify_ticket
from tests.support import CoreFlow, embedded_loopgate, wait_until
from tests.ticketing_upgrade import database_from_before


def database_bytes(embedded) -> bytes:
    """What someone who copies ticketing's database files gets (the WAL included)."""
    database = embedded.system.settings.data_dir / "ticketing.db"
    return b"".join(
        path.read_bytes()
        for path in (database, database.with_name("ticketing.db-wal"))
        if path.exists()
    )


def url_key(ticket: dict) -> str:
    return parse_qs(urlsplit(ticket["qr_png_url"]).query)["key"][0]


def private_keys(embedded) -> dict[str, bytes]:
    """Every signing key's raw private bytes, as ticketing opens them."""
    runtime = embedded.system.runtimes["ticketing"]
    with Session(runtime.engine) as session:
        return {
            key.key_id: open_private_key(runtime.secret_box, key).private_bytes_raw()
            for key in session.scalars(select(SigningKey))
        }


# --- secrets at rest ----------------------------------------------------------------------


def test_a_copied_database_holds_no_private_key_and_no_key_that_opens_a_ticket(embedded):
    event_id, ticket_type_id = embedded.published_event()
    ticket = embedded.wait_for_ticket(embedded.registered(event_id, ticket_type_id))
    embedded.wait_until_in_roster(ticket["id"])
    rotated = embedded.post(f"/api/ticketing/events/{event_id}/keys", headers=embedded.organiser)
    assert rotated.status_code == 201, rotated.text

    stolen = database_bytes(embedded)

    keys = private_keys(embedded)
    assert len(keys) == 2
    for raw in keys.values():
        assert raw not in stolen
    assert url_key(ticket).encode() not in stolen
    # What the database does hold opens nothing, signs nothing.
    runtime = embedded.system.runtimes["ticketing"]
    with Session(runtime.engine) as session:
        stored = session.get(Ticket, ticket["id"])
        sealed = session.get(SigningKey, stored.key_id).sealed_private_key
    for key in (stored.qr_key_sha256, stored.qr_key_sha256[:32]):
        for path in ("qr.png", "qr.svg"):
            image = embedded.get(
                f"/api/ticketing/tickets/{ticket['id']}/{path}", params={"key": key}
            )
            assert image.status_code == 404
        page = embedded.get(f"/api/ticketing/pages/tickets/{ticket['id']}", params={"key": key})
        assert page.status_code == 404
    assert sealed in stolen  # the copy is read whole: what is missing from it is not there
    from_the_copy = Ed25519PrivateKey.from_private_bytes(sealed[-32:])
    forged = sign_ticket(read_ticket(ticket["payload"]).claims, from_the_copy)
    assert embedded.scan(forged)["verdict"] == "invalid"


def test_the_ticket_opens_with_the_key_its_urls_and_mail_carry(embedded):
    event_id, ticket_type_id = embedded.published_event()
    ticket = embedded.wait_for_ticket(embedded.registered(event_id, ticket_type_id))

    image = embedded.get(ticket["qr_png_url"])
    (mailed,) = wait_until(
        lambda: list(embedded.system.settings.mailbox_dir.glob("*.eml")), 15, "the ticket mail"
    )

    assert image.status_code == 200 and image.headers["Content-Type"] == "image/png"
    message = BytesParser(policy=policy.default).parsebytes(mailed.read_bytes())
    assert f"key={url_key(ticket)}" in message.get_body(("plain",)).get_content()


# --- the public keys ----------------------------------------------------------------------

OTHER_ORGANISATION = "southwind"
OTHER_ORGANISER_TOKEN = "test-organiser-token-of-southwind"
STAFF_TOKEN = "test-staff-token-of-a-door-device"
PROBLEM_JSON = "application/problem+json"


def grant(embedded, token: str, principal: Principal) -> None:
    for runtime in embedded.system.runtimes.values():
        with runtime.session_factory() as session:
            ensure_token(session, runtime.tables.tokens, token, principal)


def test_the_keys_of_events_are_shown_only_to_their_own_organisers(embedded):
    ours, ours_type = embedded.published_event(title="Ours")
    our_ticket = embedded.wait_for_ticket(embedded.registered(ours, ours_type))
    grant(embedded, OTHER_ORGANISER_TOKEN, Principal(ORGANISER, OTHER_ORGANISATION))
    southwind = CoreFlow(embedded.base_url, OTHER_ORGANISER_TOKEN)
    theirs, theirs_type = southwind.published_event(title="Theirs")
    southwind.wait_for_ticket(southwind.registered(theirs, theirs_type))
    grant(embedded, STAFF_TOKEN, Principal(STAFF, DEFAULT_ORGANISATION, ours))

    for token, status in [(None, 401), ("guessed", 401), (STAFF_TOKEN, 403)]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        refused = embedded.get("/api/ticketing/keys", headers=headers)
        assert refused.status_code == status
        assert refused.headers["Content-Type"] == PROBLEM_JSON
        assert ours not in refused.text and theirs not in refused.text
    mine = embedded.get("/api/ticketing/keys", headers=embedded.organiser).json()["keys"]
    other = southwind.get("/api/ticketing/keys", headers=southwind.organiser).json()["keys"]

    assert ours in {key["event_id"] for key in mine}
    assert {key["event_id"] for key in other} == {theirs}
    assert not {key["key_id"] for key in mine} & {key["key_id"] for key in other}
    (our_key,) = [key for key in mine if key["event_id"] == ours]
    assert our_key["retired_at"] is None
    assert verify_ticket(
        our_ticket["payload"], {our_key["key_id"]: load_public_key(our_key["public_key"])}
    )


def test_a_retired_key_is_listed_with_when_it_was_retired(embedded):
    event_id, ticket_type_id = embedded.published_event()
    embedded.wait_for_ticket(embedded.registered(event_id, ticket_type_id))
    (old,) = embedded.get("/api/ticketing/keys", headers=embedded.organiser).json()["keys"]

    retired = embedded.post(
        f"/api/ticketing/events/{event_id}/keys/{old['key_id']}/retire", headers=embedded.organiser
    )

    assert retired.status_code == 200, retired.text
    keys = embedded.get("/api/ticketing/keys", headers=embedded.organiser).json()["keys"]
    assert [(key["key_id"], key["event_id"], bool(key["retired_at"])) for key in keys] == [
        (old["key_id"], event_id, True),
        (keys[1]["key_id"], event_id, False),
    ]


# --- erasure ------------------------------------------------------------------------------


def mail_to(embedded, email: str) -> list[Path]:
    return [
        path
        for path in embedded.system.settings.mailbox_dir.glob("*.eml")
        if email in path.read_text()
    ]


def test_an_erasure_deletes_the_attendees_mail_from_the_mailbox(embedded):
    event_id, ticket_type_id = embedded.published_event()
    erased = embedded.registered(
        event_id, ticket_type_id, name="Ada Erased", email="ada@example.com"
    )
    kept = embedded.registered(
        event_id, ticket_type_id, name="Grace Kept", email="grace@example.com"
    )
    ticket = embedded.wait_for_ticket(erased)
    embedded.wait_for_ticket(kept)
    wait_until(lambda: mail_to(embedded, "ada@example.com"), 15, "Ada's first mail")
    reissued = embedded.post(
        f"/api/ticketing/tickets/{ticket['id']}/reissue", headers=embedded.organiser
    )
    assert reissued.status_code == 201, reissued.text
    wait_until(lambda: len(mail_to(embedded, "ada@example.com")) == 2, 15, "Ada's two mails")
    wait_until(lambda: mail_to(embedded, "grace@example.com"), 15, "Grace's mail")

    assert embedded.erase(erased).status_code == 200

    wait_until(lambda: not mail_to(embedded, "ada@example.com"), 15, "Ada's mail deleted")
    mailbox = embedded.system.settings.mailbox_dir
    assert not [path for path in mailbox.iterdir() if b"Ada Erased" in path.read_bytes()]
    assert len(mail_to(embedded, "grace@example.com")) == 1
    listing = embedded.get("/api/ticketing/mailbox")
    assert "ada@example.com" not in listing.text and "Ada Erased" not in listing.text
    runtime = embedded.system.runtimes["ticketing"]
    with Session(runtime.engine) as session:
        rows = session.scalars(select(OutgoingMail)).all()
    assert "ada@example.com" not in {row.recipient for row in rows}
    assert "ada@example.com" not in " ".join(row.last_error or "" for row in rows)


# --- a database from before -----------------------------------------------------------------


def test_a_database_from_before_is_sealed_at_start_and_its_mailed_links_still_open(tmp_path):
    before = database_from_before(tmp_path)

    with embedded_loopgate(tmp_path) as embedded:
        mailed_page = embedded.get(
            f"/api/ticketing/pages/tickets/{before.ticket_id}", params={"key": before.mailed_key}
        )
        manage = {"token": before.manage_token}
        ticket_path = f"/api/ticketing/registrations/{before.registration_id}/ticket"
        ticket = embedded.get(ticket_path, params=manage).json()
        image = embedded.get(ticket["qr_png_url"])
        reissued = embedded.post(
            f"/api/ticketing/tickets/{before.ticket_id}/reissue", headers=embedded.organiser
        )
        replacement = embedded.get(ticket_path, params=manage).json()
        opened = private_keys(embedded)
    # Read once the instance has stopped and SQLite has checkpointed its WAL into the file.
    stolen = database_bytes(embedded)

    assert mailed_page.status_code == 200 and "Old Timer" in mailed_page.text
    assert url_key(ticket) != before.mailed_key and image.status_code == 200
    assert opened == {before.key_id: before.private_key}
    assert before.private_key not in stolen
    assert before.mailed_key.encode() not in stolen
    # The sealed key still signs: the reissued ticket verifies with the old public key.
    assert reissued.status_code == 201, reissued.text
    public = Ed25519PrivateKey.from_private_bytes(before.private_key).public_key()
    assert verify_ticket(replacement["payload"], {before.key_id: public})
