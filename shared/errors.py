"""Domain errors: what service code raises; the HTTP layer turns them into problem+json."""


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
