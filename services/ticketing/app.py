"""The ticketing service: signed tickets, their QR images and the public keys."""

from pathlib import Path

from services.ticketing import api, handlers
from services.ticketing.models import Base, tables
from shared.app_factory import build_app
from shared.runtime import ServiceDefinition

DEFINITION = ServiceDefinition(
    name="ticketing",
    metadata=Base.metadata,
    tables=tables,
    migrations_dir=Path(__file__).parent / "migrations",
    handlers=handlers.HANDLERS,
)


def create_app(settings=None, runtime=None):
    return build_app(DEFINITION, [api.blp], __name__, settings, runtime)
