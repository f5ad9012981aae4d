"""What tests drive Loopgate with: the core HTTP flow of DESIGN.md over real HTTP."""

import email
import re
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import requests
from sqlalchemy import event as sqlalchemy_event
from werkzeug.serving import WSGIRequestHandler, make_server

ORGANISER_TOKEN = "test-organiser-token"


class CoreFlow:
    def __init__(self, base_url: str, organiser_token: str = ORGANISER_TOKEN):
        self.base_url = base_url.rstrip("/")
        self.http = requests.Session()
        self.organiser = {"Authorization": f"Bearer {organiser_token}"}

    def url(self, path: str) -> str:
        return self.base_url + path

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.http.post(self.url(path), timeout=30, **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.http.get(self.url(path), timeout=30, **kwargs)

    def create_event(self, starts_in=timedelta(hours=1), lasts=timedelta(hours=8), **fields):
        starts_at = datetime.now(UTC) + starts_in
        body = {
            "title": "Demo Day",
            "starts_at": starts_at.isoformat(),
            "ends_at": (starts_at + lasts).isoformat(),
            **fields,
        }
        response = self.post("/api/registration/events", json=body, headers=self.organiser)
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def add_ticket_type(self, event_id: str, quota: int, name: str = "General") -> str:
        response = self.post(
            f"/api/registration/events/{event_id}/ticket-types",
            json={"name": name, "quota": quota},
            headers=self.organiser,
        )
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def publish(self, event_id: str) -> None:
        response = self.post(f"/api/registration/events/{event_id}/publish", headers=self.organiser)
        assert response.status_code == 200, response.text

    def published_event(self, quota: int = 10, **event_fields) -> tuple[str, str]:
        event_id = self.create_event(**event_fields)
        ticket_type_id = self.add_ticket_type(event_id, quota)
        self.publish(event_id)
        return event_id, ticket_type_id

    def register(
        self, event_id, ticket_type_id, name="Ada Lovelace", email=None, idempotency_key=None
    ) -> requests.Response:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return self.post(
            f"/api/registration/events/{event_id}/registrations",
            json={
                "ticket_type_id": ticket_type_id,
                "attendee": {"name": name, "email": email or f"{uuid.uuid4().hex[:8]}@example.com"},
            },
            headers=headers,
        )

    def registered(self, event_id, ticket_type_id, **kwargs) -> dict:
        response = self.register(event_id, ticket_type_id, **kwargs)
        assert response.status_code == 201, response.text
        return response.json()

    def ticket(self, registration: dict) -> requests.Response:
        return self.get(
            f"/api/ticketing/registrations/{registration['id']}/ticket",
            params={"token": registration["manage_token"]},
        )

    def wait_for_ticket(self, registration: dict, timeout: float = 15) -> dict:
        return wait_until(
            lambda: _json_if_ok(self.ticket(registration)),
            timeout,
            f"ticket of {registration['id']}",
        )

    def cancel(self, registration: dict) -> requests.Response:
        return self.post(
            f"/api/registration/registrations/{registration['id']}/cancel",
            params={"token": registration["manage_token"]},
        )

    def erase(self, registration: dict) -> requests.Response:
        """The organiser erases the attendee's personal data."""
        return self.post(
            f"/api/registration/registrations/{registration['id']}/erase",
            headers=self.organiser,
        )

    def scan(self, payload: str, scan_id: str | None = None, **fields) -> dict:
        response = self.post(
            "/api/checkin/scans",
            json={"payload": payload, "scan_id": scan_id or uuid.uuid4().hex, **fields},
            headers=self.organiser,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def signing_keys(self, event_id: str) -> list[dict]:
        response = self.get(f"/api/ticketing/events/{event_id}/keys", headers=self.organiser)
        assert response.status_code == 200, response.text
        return response.json()["keys"]

    def retire_key(self, event_id: str, key_id: str) -> dict:
        """The organiser retires one of the event's signing keys."""
        response = self.post(
            f"/api/ticketing/events/{event_id}/keys/{key_id}/retire", headers=self.organiser
        )
        assert response.status_code == 200, response.text
        return response.json()

    def roster_ticket(self, ticket_id: str) -> requests.Response:
        return self.get(f"/api/checkin/tickets/{ticket_id}", headers=self.organiser)

    def wait_until_in_roster(self, ticket_id: str, timeout: float = 15) -> dict:
        return wait_until(
            lambda: _json_if_ok(self.roster_ticket(ticket_id)),
            timeout,
            f"ticket {ticket_id} in the check-in roster",
        )


def sign_in(browser: requests.Session, base_url: str, token: str) -> requests.Response:
    """Sign in to the organiser pages as a browser does: the form's CSRF cookie and field,
    then the token; the answer (303 on success), the session cookie kept in `browser`."""
    form = browser.get(base_url + "/organiser/login", timeout=30)
    send_secure_cookies_over_http(browser)
    answer = browser.post(
        base_url + "/organiser/login",
        data={"token": token, "csrf": form.cookies["loopgate_sign_in"]},
        allow_redirects=False,
        timeout=30,
    )
    send_secure_cookies_over_http(browser)
    return answer


def send_secure_cookies_over_http(browser: requests.Session) -> None:
    # Browsers send Secure cookies to this computer over plain HTTP; requests, over https only.
    for cookie in browser.cookies:
        cookie.secure = False


def free_ports(count: int = 1) -> list[int]:
    """Ports nothing listens on now, so a run never meets another instance."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def listening(port: int) -> bool:
    """Something accepts connections on 127.0.0.1:`port` (the local RabbitMQ or PostgreSQL)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def statements_sent(engine, action) -> list[str]:
    """The first word of each statement `engine` sends while `action()` runs."""
    statements = []

    def record(connection, cursor, statement, *args):
        statements.append(statement.split()[0])

    sqlalchemy_event.listen(engine, "before_cursor_execute", record)
    try:
        action()
    finally:
        sqlalchemy_event.remove(engine, "before_cursor_execute", record)
    return statements


def _json_if_ok(response: requests.Response):
    return response.json() if response.status_code == 200 else None


def wait_until(probe, timeout: float, what: str, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = probe()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Inbox:
    """An aiosmtpd handler (see smtp_server) that keeps what it is given."""

    def __init__(self, refuse_recipients_with: str | None = None):
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []
        self._refusal = refuse_recipients_with

    async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: N802
        if self._refusal:
            return self._refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.recipients.append(list(envelope.rcpt_tos))
        self.messages.append(BytesParser(policy=policy.default).parsebytes(envelope.content))
        return "250 Message accepted"


@contextmanager
def smtp_server(port: int, inbox: Inbox):
    """A real SMTP server (aiosmtpd) on 127.0.0.1:`port` while the block runs."""
    from aiosmtpd.controller import Controller

    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


class ServedApp:
    """A WSGI app on a real port, in a thread."""

    def __init__(self, app):
        self._server = make_server(
            "127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler
        )
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._server.shutdown()
        self._thread.join(5)


@contextmanager
def embedded_loopgate(data_dir, rate_limit: str = "off", **environ: str):
    """A whole embedded Loopgate on a real port, rate limit off unless given, with any other
    LOOPGATE_* settings in `environ`: a CoreFlow with `.system`."""
    from services.system import embedded_system
    from shared.embedded import HttpServer
    from shared.settings import Settings

    settings = Settings.from_env(
        {
            "LOOPGATE_DATA_DIR": str(data_dir),
            "LOOPGATE_BOOTSTRAP_TOKEN": ORGANISER_TOKEN,
            "LOOPGATE_RATE_LIMIT": rate_limit,
            **environ,
        }
    )
    system = embedded_system(settings)
    system.start()
    try:
        # On the server `make run` serves with, so tests meet what users meet.
        with HttpServer(system.app, "127.0.0.1", 0) as server:
            flow = CoreFlow(f"http://127.0.0.1:{server.port}")
            flow.system = system
            flow.mailbox_dir = settings.mailbox_dir
            yield flow
    finally:
        system.stop()


def module_loopgate(name: str):
    """A fixture `embedded`: one embedded Loopgate for a whole test module (its tests make
    their own organisations and events), its data in a temporary directory named `name`.
    A module says `embedded = module_loopgate("doors")`. (pytest is imported here: the
    benchmarks use this module too.)"""
    import pytest

    @pytest.fixture(scope="module")
    def embedded(tmp_path_factory):
        with embedded_loopgate(tmp_path_factory.mktemp(name)) as flow:
            yield flow

    return embedded


# --- organisations and their teams ---------------------------------------------------------

PASSWORD = "a long enough password"


def mails_to(flow: CoreFlow, address: str) -> list[EmailMessage]:
    messages = []
    for file in sorted(flow.mailbox_dir.glob("*.eml")):
        message = email.message_from_bytes(file.read_bytes(), policy=policy.default)
        if message["To"] == address:
            messages.append(message)
    return messages


def mailed_link_token(flow: CoreFlow, address: str, pages: str) -> str:
    """The token of the /organiser/<pages>/<token> link in the newest such mail to `address`."""

    def link():
        for message in reversed(mails_to(flow, address)):
            text = message.get_body(("plain",)).get_content()
            found = re.search(rf"/{pages}/([A-Za-z0-9_.\-]+)", text)
            if found:
                return found.group(1)
        return None

    return wait_until(link, 15, f"a mail to {address} with a link to /{pages}/")


def invitation_token(flow: CoreFlow, address: str) -> str:
    return mailed_link_token(flow, address, "invitations")


def accept(flow: CoreFlow, token: str, name: str, password: str = PASSWORD):
    return flow.post(
        f"/api/registration/invitations/{token}/accept", json={"name": name, "password": password}
    )


def member_headers(flow: CoreFlow, address: str, password: str = PASSWORD) -> dict:
    """Sign in over the API as a team member: their bearer token's headers."""
    response = flow.post("/api/registration/sign-in", json={"email": address, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def signed_in_member(flow: CoreFlow, address: str, password: str = PASSWORD) -> requests.Session:
    """A browser signed in to the organiser area with the member's email and password."""
    browser = requests.Session()
    form = browser.get(flow.url("/organiser/login"), timeout=30)
    send_secure_cookies_over_http(browser)
    answer = browser.post(
        flow.url("/organiser/login"),
        data={"email": address, "password": password, "csrf": form.cookies["loopgate_sign_in"]},
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 303, answer.text
    send_secure_cookies_over_http(browser)
    return browser


def member_browser(flow: CoreFlow, inviter: dict, address: str, role: str, **fields):
    """Invite `address` as `role` (see invited_member_headers): a browser signed in as them
    to the organiser area."""
    invited_member_headers(flow, inviter, address, role, **fields)
    return signed_in_member(flow, address)


def csrf_of(page: requests.Response) -> str:
    """The CSRF token of the page's form, as a browser posts it back."""
    return re.search(r'name="csrf" value="([^"]+)"', page.text)[1]


def organisation_invited(flow: CoreFlow, name: str, owner_email: str) -> dict:
    """An organisation made by the instance's administrator, its owner invited by mail."""
    created = flow.post(
        "/api/registration/organisations",
        json={"name": name, "owner": {"name": "Owner", "email": owner_email}},
        headers=flow.organiser,
    )
    assert created.status_code == 201, created.text
    return created.json()


def new_organisation(flow: CoreFlow, name: str, owner_email: str) -> dict:
    """An organisation whose owner has joined and signed in: the owner's headers."""
    organisation_invited(flow, name, owner_email)
    assert accept(flow, invitation_token(flow, owner_email), "Olive Owner").status_code == 201
    return member_headers(flow, owner_email)


def invited_member_headers(flow, inviter: dict, address: str, role: str, **fields) -> dict:
    """Invite `address` as `role`, accept the mailed link and sign in: their headers."""
    response = flow.post(
        "/api/registration/members/invitations",
        json={"email": address, "role": role, **fields},
        headers=inviter,
    )
    assert response.status_code == 201, response.text
    assert accept(flow, invitation_token(flow, address), role.title()).status_code == 201
    return member_headers(flow, address)
