"""The registration service: events, ticket types, registrations and the waitlist."""

from pathlib import Path

from services.registration import api, handlers
from services.registration.models import Base, tables
from shared.app_factory import build_app
from shared.http import limit_rate
from shared.runtime import ServiceDefinition

DEFINITION = ServiceDefinition(
    name="registration",
    metadata=Base.metadata,
    tables=tables,
    migrations_dir=Path(__file__).parent / "migrations",
    handlers=handlers.HANDLERS,
)


def create_app(settings=None, runtime=None):
    app = build_app(DEFINITION, [api.blp], __name__, settings, runtime)
    limit_rate(app, "registration.register", app.extensions["loopgate"].settings.rate_limit)
    return app
