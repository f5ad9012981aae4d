"""A ticket drop: many clients register for the same ticket type at the same moment.

Each client is a thread with its own kept-alive connection, all released together by a
barrier; the concurrency tests and bench/ticket_drop.py both run it. The clients share the
machine with the server, so they use the standard library's plain HTTP client: requests
costs several times its CPU per request, which the server would lose.
"""

import http.client
import json
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sqlalchemy import func, select

from services.registration.models import Registration, TicketType

JSON = "application/json"


@dataclass
class RaceResult:
    statuses: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    # Seconds from the start until the last "confirmed" answer came back.
    last_confirmed: float = 0.0

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def race(base_url: str, event_id: str, ticket_type_id: str, total: int, clients: int):
    """`total` registrations sent by `clients` concurrent clients; what they were answered."""
    result = RaceResult()
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    server = urlsplit(base_url)
    path = f"/api/registration/events/{event_id}/registrations"

    def client(count: int) -> None:
        connection = http.client.HTTPConnection(server.hostname, server.port, timeout=60)
        start.wait()
        began_race = time.perf_counter()
        for _ in range(count):
            body = {
                "ticket_type_id": ticket_type_id,
                "attendee": {"name": "Racer", "email": f"{uuid.uuid4().hex[:12]}@example.com"},
            }
            began = time.perf_counter()
            connection.request("POST", path, json.dumps(body), {"Content-Type": JSON})
            response = connection.getresponse()
            answer = response.read()
            took = time.perf_counter() - began
            status = json.loads(answer)["status"] if response.status == 201 else None
            with lock:
                result.statuses[status or f"http {response.status}"] += 1
                result.latencies.append(took)
                if status == "confirmed":
                    finished = time.perf_counter() - began_race
                    result.last_confirmed = max(result.last_confirmed, finished)
        connection.close()

    shares = [total // clients + (1 if n < total % clients else 0) for n in range(clients)]
    threads = [threading.Thread(target=client, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    result.elapsed = time.perf_counter() - began
    return result


def places_sold(runtime, event_id: str, ticket_type_id: str) -> tuple[int, int]:
    """(confirmed registrations, the ticket type's counter) as the database holds them."""
    with runtime.session_factory() as session:
        confirmed = session.scalar(
            select(func.count())
            .select_from(Registration)
            .where(Registration.event_id == event_id, Registration.status == "confirmed")
        )
        return confirmed, session.get(TicketType, ticket_type_id).confirmed_count
