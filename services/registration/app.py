"""The registration service: events, sessions, ticket types, registrations and the waitlist."""

from pathlib import Path

from services.registration import (
    api,
    handlers,
    pages,
    registration_pages,
    service,
    team_pages,
)
from services.registration.mail.relay import relay_mail
from services.registration.models import Base, tables
from shared import pages as shared_pages
from shared.http import create_service_app, limit_rate
from shared.i18n import init_i18n
from shared.runtime import PeriodicTask, ServiceDefinition

PERIODIC_TASKS = (
    # At start: the other services must know the key before the first sign-in.
    PeriodicTask("identity-key", 60 * 60, handlers.publish_identity_key),
    PeriodicTask("waitlist-offers", 30, handlers.lapse_waitlist_offers),
    PeriodicTask("retention", 15 * 60, handlers.erase_after_retention),
    PeriodicTask("idempotency-keys", 15 * 60, handlers.forget_expired_idempotency_keys),
    PeriodicTask("mail-relay", every_seconds=0.5, run=relay_mail),
)


def create_app(settings=None, runtime=None):
    app = create_service_app(DEFINITION, [api.blp], __name__, settings, runtime)
    app.register_blueprint(pages.blueprint)
    app.register_blueprint(shared_pages.blueprint)
    app.register_blueprint(team_pages.blueprint)
    app.register_blueprint(registration_pages.blueprint)
    init_i18n(app, Path(__file__).parent / "translations")
    rate = app.extensions["loopgate"].settings.rate_limit
    # Each of these sends something (a registration, a mail) for anyone who asks.
    for endpoint in (
        "registration.register",
        "pages.register",
        "registration.request_password_reset",
        "team_pages.request_password_reset",
    ):
        limit_rate(app, endpoint, rate)
    return app


# What the library is handed for this service (services/system.py lists the three).
DEFINITION = ServiceDefinition(
    name="registration",
    metadata=Base.metadata,
    tables=tables,
    migrations_dir=Path(__file__).parent / "migrations",
    handlers=handlers.HANDLERS,
    app_factory=create_app,
    periodic_tasks=PERIODIC_TASKS,
    personal_token_used=service.personal_token_used,
)
