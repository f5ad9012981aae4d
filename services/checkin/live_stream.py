"""The dashboard's live updates as server-sent events, bounded so that a forgotten browser
tab never holds a server thread for long. No Flask, no broker."""

import time
from collections.abc import Callable, Iterator

from sqlalchemy.orm import Session, sessionmaker

from services.checkin import live_stats
from services.checkin.models import EventInfo

POLL_SECONDS = 1.0
# Below the gateway's 30 s read timeout, so an idle stream is never cut as a dead upstream.
HEARTBEAT_SECONDS = 15.0
# Then the stream ends and the browser reconnects (after `retry`), freeing the thread.
MAX_STREAM_SECONDS = 300.0
RECONNECT_MILLISECONDS = 2000


def stats_events(
    session_factory: sessionmaker,
    event: EventInfo,
    render: Callable[[dict], str],
    max_seconds: float = MAX_STREAM_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[str]:
    """The event's stats now, then again whenever a scan is recorded, with a heartbeat
    comment when nothing changes."""
    yield f"retry: {RECONNECT_MILLISECONDS}\n\n"
    started = last_sent = clock()
    marker = None
    while clock() - started < max_seconds:
        with session_factory() as session:
            changed = _changed(session, event, marker)
        if changed is not None:
            marker, stats = changed
            yield "event: stats\ndata: " + render(stats) + "\n\n"
            last_sent = clock()
        elif clock() - last_sent >= HEARTBEAT_SECONDS:
            yield ": heartbeat\n\n"
            last_sent = clock()
        sleep(POLL_SECONDS)


def _changed(session: Session, event: EventInfo, seen) -> tuple | None:
    marker = live_stats.change_marker(session, event.id)
    if marker == seen:
        return None
    current = session.get(EventInfo, event.id)
    return marker, live_stats.event_stats(session, current)
