"""Registrations as CSV: UTF-8 with a byte order mark so Excel shows Chinese names right."""

import csv
import io

COLUMNS = ["id", "status", "name", "email", "ticket_type_id", "registered_at"]


def registrations_csv(registrations) -> str:
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for registration in registrations:
        writer.writerow(
            [
                registration.id,
                registration.status,
                _cell(registration.attendee_name),
                _cell(registration.attendee_email),
                registration.ticket_type_id,
                registration.created_at.isoformat(),
            ]
        )
    return buffer.getvalue()


def _cell(text: str) -> str:
    # A leading =, +, - or @ would run as a formula in a spreadsheet.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
