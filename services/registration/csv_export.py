"""Registrations as CSV: UTF-8 with a byte order mark so Excel shows Chinese names right; one
column per question, and whether (and when) each attendee was checked in."""

import csv
import io

from services.registration.models import CONSENT, MULTIPLE_CHOICE, YES_NO
from shared.spreadsheet import safe_cell

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
    slot_titles = {time_slot.id: time_slot.title for time_slot in report.time_slots}
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS + [safe_cell(question.label) for question in report.questions])
    for registration in report.registrations:
        seats = [
            f"{slot_titles[place.session_id]} ({place.status})"
            for place in report.places[registration.id]
        ]
        writer.writerow(
            [
                registration.id,
                registration.status,
                safe_cell(registration.attendee_name),
                safe_cell(registration.attendee_email),
                registration.ticket_type_id,
                safe_cell(ticket_types[registration.ticket_type_id]),
                safe_cell("; ".join(seats)),
                registration.created_at.isoformat(),
                "yes" if registration.checked_in_at else "no",
                registration.checked_in_at.isoformat() if registration.checked_in_at else "",
            ]
            + [
                safe_cell(_answer(question, registration.answers.get(question.id)))
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
