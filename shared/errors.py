"""Domain errors: what service code raises; the HTTP layer turns them into problem+json.

Their messages are English, marked with N_ so that `make translations` extracts them into
the service's catalogues, where the HTTP layer looks each up in the reader's language. N_
lives here, not beside Flask-Babel, so that domain modules mark messages without Flask.
"""


def N_(message: str) -> str:  # noqa: N802 (the gettext convention for "translate later")
    return message


class DomainError(Exception):
    status = 400
    slug = "bad-request"

    def __init__(self, detail: str, **extra):
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(DomainError):
    status = 404
    slug = "not-found"


class Conflict(DomainError):
    status = 409
    slug = "conflict"


class InvalidRequest(DomainError):
    status = 422
    slug = "validation-error"


class Forbidden(DomainError):
    """The caller is known, and their role may not do this (a manager naming an owner)."""

    status = 403
    slug = "forbidden"


class Gone(DomainError):
    """What was there is no more: a used or expired link."""

    status = 410
    slug = "gone"
