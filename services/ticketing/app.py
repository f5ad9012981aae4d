"""The ticketing service: signed tickets, their QR images, ticket pages and mail, and the
signing keys."""

from pathlib import Path

from services.ticketing import api, handlers, organiser_pages, pages
from services.ticketing.mail.relay import relay_mail
from services.ticketing.models import Base, tables
from shared import pages as shared_pages
from shared.http import create_service_app
from shared.i18n import init_i18n
from shared.runtime import PeriodicTask, ServiceDefinition

# The worker sends the mail outbox; a new ticket's mail goes within about this many seconds.
PERIODIC_TASKS = (PeriodicTask("mail-relay", every_seconds=0.5, run=relay_mail),)


def create_app(settings=None, runtime=None):
    app = create_service_app(DEFINITION, [api.blp, pages.blp], __name__, settings, runtime)
    app.register_blueprint(organiser_pages.blueprint, url_prefix="/api/ticketing/organiser")
    app.register_blueprint(shared_pages.blueprint)
    init_i18n(app, Path(__file__).parent / "translations")
    return app


# What the library is handed for this service (services/system.py lists the three).
DEFINITION = ServiceDefinition(
    name="ticketing",
    metadata=Base.metadata,
    tables=tables,
    migrations_dir=Path(__file__).parent / "migrations",
    handlers=handlers.HANDLERS,
    app_factory=create_app,
    periodic_tasks=PERIODIC_TASKS,
)
