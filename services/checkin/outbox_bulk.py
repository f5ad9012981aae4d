"""Many events into the outbox at once, for the offline batch upload.

UnitOfWork.publish checks and writes one event per call, with a schema built and a round
trip each: for 10,000 scans uploaded at once that alone would take seconds. Here every event
is still checked against its schema, all in one pass of one schema, and written in one
statement. The envelope is make_envelope's own (the first event goes through it whole); each
event gets its own id. The relay polls the outbox, so these rows go out within its interval.
"""

import uuid
from datetime import UTC, datetime

from sqlalchemy import Table
from sqlalchemy.orm import Session

from shared.bus.events import EVENT_SCHEMAS, ContractError, make_envelope
from shared.logs import current_correlation_id


def publish_many(
    session: Session, outbox: Table, source: str, event_type: str, items: list[dict]
) -> None:
    if not items:
        return
    first = make_envelope(event_type, items[0], source, current_correlation_id())
    if any(item.keys() != items[0].keys() for item in items):
        raise ContractError(f"{event_type}: events of one batch differ in their fields")
    schema = EVENT_SCHEMAS[event_type](many=True)
    serialised = schema.dump(items)
    errors = schema.validate(serialised)
    if errors:
        raise ContractError(f"{event_type}: errors {errors}")
    now = datetime.now(UTC)
    session.execute(
        outbox.insert(),
        [
            {
                "id": envelope_id,
                "event_type": event_type,
                "envelope": {**first, "id": envelope_id, "data": data},
                "created_at": now,
            }
            for envelope_id, data in ((str(uuid.uuid4()), data) for data in serialised)
        ],
    )
