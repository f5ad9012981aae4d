"""The check-in service: lists, the ticket roster and scans at the door."""

from pathlib import Path

from services.checkin import api, handlers
from services.checkin.models import Base, tables
from shared.app_factory import build_app
from shared.runtime import ServiceDefinition

DEFINITION = ServiceDefinition(
    name="checkin",
    metadata=Base.metadata,
    tables=tables,
    migrations_dir=Path(__file__).parent / "migrations",
    handlers=handlers.HANDLERS,
)


def create_app(settings=None, runtime=None):
    return build_app(DEFINITION, [api.blp], __name__, settings, runtime)
