"""The three services by name, loaded on demand (shared/ never imports a service at start)."""

import importlib

from shared.bus.topology import SERVICES
from shared.runtime import ServiceDefinition


def definition(service: str) -> ServiceDefinition:
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}; one of {', '.join(SERVICES)}")
    return importlib.import_module(f"services.{service}.app").DEFINITION


def app_factory(service: str):
    return importlib.import_module(f"services.{service}.app").create_app
