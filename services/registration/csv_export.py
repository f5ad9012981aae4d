"""Registrations as CSV: UTF-8 with a byte order mark so Excel shows Chinese names right; one
column per question, and whether (and when) each attendee was checked in."""

import csv
import io

from services.registration.answers import CONSENT, MULTIPLE_CHOICE, YES_NO

COLUMNS = [
    "id",
    "status",
    "name",
    "email",
    "ticket_type_id",
    "ticket_type",
    "sessions",
    "registered_at",
    "checked_in",
    "checked_in_at",
]


def registrations_csv(report) -> str:
    """`report` is a service.RegistrationsReport."""
    ticket_types = {ticket_type.id: ticket_type.name for ticket_type in report.ticket_types}
    sessions = {event_session.id: event_session.title for event_session in report.sessions}
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS + [_cell(question.label) for question in report.questions])
    for registration in report.registrations:
        seats = [
            f"{sessions[place.session_id]} ({place.status})"
            for place in report.places[registration.id]
        ]
        writer.writerow(
            [
                registration.id,
                registration.status,
                _cell(registration.attendee_name),
                _cell(registration.attendee_email),
                registration.ticket_type_id,
                _cell(ticket_types[registration.ticket_type_id]),
                _cell("; ".join(seats)),
                registration.created_at.isoformat(),
                "yes" if registration.checked_in_at else "no",
                registration.checked_in_at.isoformat() if registration.checked_in_at else "",
            ]
            + [
                _cell(_answer(question, registration.answers.get(question.id)))
                for question in report.questions
            ]
        )
    return buffer.getvalue()


def _answer(question, value) -> str:
    if value is None:
        return ""
    if question.kind == MULTIPLE_CHOICE:
        return "; ".join(value)
    if question.kind in (YES_NO, CONSENT):
        return "yes" if value else "no"
    return value


def _cell(text: str) -> str:
    # A leading =, +, - or @ would run as a formula in a spreadsheet.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
