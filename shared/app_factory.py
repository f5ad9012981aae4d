"""Build a service's HTTP app or worker from its definition: the one bootstrap every
service's app.py calls."""

from flask import Flask
from flask_smorest import Blueprint

from shared.http import create_service_app
from shared.runtime import ServiceDefinition, ServiceRuntime
from shared.settings import Settings


def build_app(
    definition: ServiceDefinition,
    blueprints: list[Blueprint],
    import_name: str,
    settings: Settings | None = None,
    runtime: ServiceRuntime | None = None,
) -> Flask:
    runtime = runtime or ServiceRuntime(definition, settings or Settings.from_env())
    return create_service_app(runtime, blueprints, import_name)
