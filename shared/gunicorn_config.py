"""gunicorn's settings for Loopgate's web processes (`gunicorn -c python:shared.gunicorn_config`,
as the Procfile runs them)."""

import logging
import os

from shared.logs import RedactSecrets
from shared.private_files import PRIVATE_UMASK


def on_starting(server) -> None:
    # gunicorn's --umask only covers its own sockets and temporary files; the workers, forked
    # after this, write metrics (and tokens) into the data dir with the process umask.
    os.umask(PRIVATE_UMASK)
    # gunicorn writes its own lines (a failed request's URL among them) with handlers of its
    # own, which configure_logging's filter never sees.
    for name in ("gunicorn.error", "gunicorn.access"):
        logging.getLogger(name).addFilter(RedactSecrets())
