"""A correlation id follows a registration through all three services."""

import json
import logging

from sqlalchemy import select

from shared.logs import JsonFormatter, set_correlation_id
from tests.support import wait_until


def _envelopes(embedded, service: str) -> list[dict]:
    runtime = embedded.system.runtimes[service]
    with runtime.session_factory() as session:
        return list(session.scalars(select(runtime.tables.outbox.c.envelope)))


def test_the_callers_correlation_id_travels_from_registration_to_ticket(embedded):
    event_id, ticket_type_id = embedded.published_event()
    response = embedded.post(
        f"/api/registration/events/{event_id}/registrations",
        json={
            "ticket_type_id": ticket_type_id,
            "attendee": {"name": "Lam Siu Ming", "email": "siuming@example.com"},
        },
        headers={"X-Correlation-ID": "reg-42-from-kiosk"},
    )
    assert response.headers["X-Correlation-ID"] == "reg-42-from-kiosk"
    ticket = embedded.wait_for_ticket(response.json())
    embedded.wait_until_in_roster(ticket["id"])
    embedded.scan(ticket["payload"])

    def correlated(service):
        return [
            e["type"]
            for e in _envelopes(embedded, service)
            if e["correlation_id"] == "reg-42-from-kiosk"
        ]

    assert correlated("registration") == ["registration.confirmed"]
    assert wait_until(lambda: correlated("ticketing"), 10, "ticket.issued") == ["ticket.issued"]


def test_a_request_without_one_gets_a_fresh_id_and_a_forged_one_is_replaced(embedded):
    plain = embedded.get("/api/registration/healthz")
    forged = embedded.get(
        "/api/registration/healthz", headers={"X-Correlation-ID": "x" * 500 + "<script>"}
    )
    assert len(plain.headers["X-Correlation-ID"]) == 36
    assert len(forged.headers["X-Correlation-ID"]) == 36


def test_json_log_lines_carry_the_service_and_correlation_id():
    record = logging.LogRecord(
        "loopgate.test", logging.WARNING, __file__, 1, "door %s", ("3",), None
    )
    set_correlation_id("abc-123")
    try:
        line = json.loads(JsonFormatter("checkin").format(record))
    finally:
        set_correlation_id(None)
    assert line["service"] == "checkin"
    assert line["correlation_id"] == "abc-123"
    assert line["message"] == "door 3"
    assert line["level"] == "warning"
