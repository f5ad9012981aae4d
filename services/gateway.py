"""The gateway in front of the three services in distributed mode (shared/gateway.py), as
gunicorn runs it: `gunicorn 'services.gateway:create_app()'`. It loads none of the services'
code, only their names."""

import os
from collections.abc import Mapping

from services.system import DEFAULT_SERVICE, SERVICES
from shared import gateway

# Where each service listens unless LOOPGATE_<SERVICE>_UPSTREAM says otherwise (the
# Procfile's default ports).
DEFAULT_PORTS = {"registration": 8101, "ticketing": 8102, "checkin": 8103}
DEFAULT_UPSTREAMS = {service: f"http://127.0.0.1:{DEFAULT_PORTS[service]}" for service in SERVICES}


def create_app(environ: Mapping[str, str] = os.environ):
    return gateway.create_app(DEFAULT_UPSTREAMS, DEFAULT_SERVICE, environ)
