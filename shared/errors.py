"""The one exception hierarchy of the project; ``shared.http.problems`` maps it to HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class FieldError:
    """One invalid field: a dotted location (``body.name``) and what is wrong with it."""

    field: str
    message: str


class AppError(Exception):
    """Base of every error the API reports on purpose."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra


class InvalidInput(AppError):
    """The request is well-formed but one or more fields are invalid."""

    status = 422
    code = "invalid-input"
    title = "Invalid input"

    def __init__(self, detail: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail)
        self.errors = errors or []

    @classmethod
    def for_field(cls, field: str, message: str) -> InvalidInput:
        """Build the error for a single named field."""
        return cls(f"{field}: {message}", [FieldError(field, message)])


class MalformedRequest(AppError):
    """The body could not be parsed at all (not JSON, wrong encoding)."""

    status = 400
    code = "malformed-request"
    title = "Malformed request"


class PayloadTooLarge(AppError):
    """The body is larger than the limit for it."""

    status = 413
    code = "payload-too-large"
    title = "Payload too large"


class UnsupportedMediaType(AppError):
    """The content is of a type the endpoint does not take."""

    status = 415
    code = "unsupported-media-type"
    title = "Unsupported media type"


class Unauthorized(AppError):
    """No valid credentials were presented."""

    status = 401
    code = "unauthorized"
    title = "Unauthorized"


class Forbidden(AppError):
    """The caller is known but may not do this."""

    status = 403
    code = "forbidden"
    title = "Forbidden"


class NotFound(AppError):
    """The resource does not exist or is not visible to the caller."""

    status = 404
    code = "not-found"
    title = "Not found"


class Conflict(AppError):
    """The request conflicts with the current state (duplicate, stale version)."""

    status = 409
    code = "conflict"
    title = "Conflict"


class BudgetExceeded(AppError):
    """The organization's AI budget does not cover this request."""

    status = 402
    code = "budget-exceeded"
    title = "Budget exceeded"


class RateLimited(AppError):
    """Too many requests; retry after ``retry_after`` seconds."""

    status = 429
    code = "rate-limited"
    title = "Too many requests"

    def __init__(self, detail: str | None = None, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class UpstreamUnavailable(AppError):
    """A dependency (database, Redis, provider) failed; the request may be retried."""

    status = 503
    code = "upstream-unavailable"
    title = "Upstream unavailable"


class OutcomeUnknown(UpstreamUnavailable):
    """The connection was lost after a write was sent: it may or may not have been applied.

    Its own ``type``, so a client can tell it from a failure that changed nothing: retrying it
    without an Idempotency-Key may apply the change twice.
    """

    code = "outcome-unknown"
    title = "Outcome unknown"


class IdempotentReplay(Exception):
    """Not a failure: a repeated Idempotency-Key whose first response is sent again, as stored."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"replay of a {status} response")
        self.status = status
        self.body = body


class ConfigurationError(Exception):
    """Settings are invalid; raised at cold start so the function never serves."""


class SecretsUnavailable(ConfigurationError):
    """The secret store (SSM, Secrets Manager) could not be read: throttled, unreachable, refused, or a name missing."""
