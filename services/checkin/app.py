"""The check-in service: lists, the ticket roster, scans, door devices, the scanner and
dashboard pages."""

from pathlib import Path

from services.checkin import api, handlers, organiser_pages, pages
from services.checkin.compressed_uploads import GzipRequestBodies
from services.checkin.models import Base, tables
from shared import pages as shared_pages
from shared.http import create_service_app, limit_rate, per_bearer_token
from shared.i18n import init_i18n
from shared.runtime import ServiceDefinition

DOOR_SEARCH_RATE = "30/minute"


def create_app(settings=None, runtime=None):
    app = create_service_app(DEFINITION, [api.blp], __name__, settings, runtime)
    app.register_blueprint(pages.blueprint, url_prefix="/api/checkin")
    app.register_blueprint(organiser_pages.blueprint, url_prefix="/api/checkin/organiser")
    app.register_blueprint(shared_pages.blueprint)
    init_i18n(app, Path(__file__).parent / "translations")
    settings = app.extensions["loopgate"].settings
    # Pairing needs no token, so guessing codes is slowed down per client address.
    limit_rate(app, "checkin.redeem_pairing_code", settings.rate_limit)
    # Staff look a few people up an hour; a device searching faster is harvesting names.
    if settings.rate_limit is not None:
        limit_rate(app, "checkin.search_tickets", DOOR_SEARCH_RATE, per=per_bearer_token)
    app.wsgi_app = GzipRequestBodies(app.wsgi_app)
    return app


# What the library is handed for this service (services/system.py lists the three).
DEFINITION = ServiceDefinition(
    name="checkin",
    metadata=Base.metadata,
    tables=tables,
    migrations_dir=Path(__file__).parent / "migrations",
    handlers=handlers.HANDLERS,
    app_factory=create_app,
)
