"""The whole Loopgate: its three services, each by the definition its app module gives
(tables, migrations, handlers, app factory, periodic tasks). This is the one place that
knows all three; the library (shared/) is handed their definitions and knows none.

The names are plain constants and the definitions are imported when first asked for, so the
`loopgate` command and the gateway start without loading the services' code."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.embedded import EmbeddedSystem
    from shared.runtime import ServiceDefinition
    from shared.settings import Settings

SERVICES = ("registration", "ticketing", "checkin")
# Registration also serves the public pages, so every path outside /api/<service>/ goes there
# (the embedded dispatcher and, in distributed mode, the gateway).
DEFAULT_SERVICE = "registration"


@cache
def definitions() -> tuple[ServiceDefinition, ...]:
    """The three services' definitions, in the order of SERVICES."""
    from services.checkin.app import DEFINITION as checkin
    from services.registration.app import DEFINITION as registration
    from services.ticketing.app import DEFINITION as ticketing

    found = (registration, ticketing, checkin)
    assert tuple(definition.name for definition in found) == SERVICES
    return found


def definition(service: str) -> ServiceDefinition:
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}; one of {', '.join(SERVICES)}")
    return definitions()[SERVICES.index(service)]


def subscriptions() -> dict[str, list[str]]:
    """The event types each service consumes (its queue's bindings), by service."""
    return {found.name: found.subscriptions for found in definitions()}


def embedded_system(settings: Settings) -> EmbeddedSystem:
    """All three services and their workers in one process (`loopgate run`)."""
    from shared.embedded import EmbeddedSystem

    return EmbeddedSystem(settings, definitions(), DEFAULT_SERVICE)
