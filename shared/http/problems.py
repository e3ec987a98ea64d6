"""The one place where exceptions become RFC 9457 ``application/problem+json`` responses."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.errors import (
    AppError,
    FieldError,
    IdempotentReplay,
    InvalidInput,
    MalformedRequest,
    RateLimited,
    Unauthorized,
)

PROBLEM_JSON = "application/problem+json"


def problem(status: int, code: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    """Build a problem+json response; ``type`` is a stable URI reference per error code."""
    body = {"type": f"/problems/{code}", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def from_app_error(exc: AppError) -> JSONResponse:
    """Render one of our exceptions."""
    extra: dict[str, Any] = {}
    if isinstance(exc, InvalidInput):
        extra["errors"] = [{"field": e.field, "message": e.message} for e in exc.errors]
    response = problem(exc.status, exc.code, exc.title, exc.detail, **extra)
    if isinstance(exc, RateLimited):
        response.headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, Unauthorized):
        # RFC 6750 section 3: a 401 names the scheme; the reason stays in the body, not the header.
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def from_validation_error(exc: RequestValidationError) -> JSONResponse:
    """Render FastAPI's validation errors, naming every offending field."""
    errors = [
        FieldError(".".join(str(part) for part in err.get("loc", ())), str(err.get("msg", "is not valid")))
        for err in exc.errors()
    ]
    if any(err.get("type") == "json_invalid" for err in exc.errors()):
        return from_app_error(MalformedRequest("body is not valid JSON"))
    detail = "; ".join(f"{e.field}: {e.message}" for e in errors) or "invalid request"
    return from_app_error(InvalidInput(detail, errors))


def from_http_exception(exc: StarletteHTTPException) -> JSONResponse:
    """Render routing errors (404, 405) raised by Starlette itself."""
    title = HTTPStatus(exc.status_code).phrase
    code = title.lower().replace(" ", "-")
    response = problem(exc.status_code, code, title, str(exc.detail) if exc.detail else title)
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    async def _app_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AppError)
        return from_app_error(exc)

    async def _validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return from_validation_error(exc)

    async def _http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return from_http_exception(exc)

    async def _replay(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, IdempotentReplay)
        return JSONResponse(exc.body, status_code=exc.status, headers={"Idempotent-Replayed": "true"})

    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(IdempotentReplay, _replay)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)


def internal_error() -> JSONResponse:
    """The response for a bug: no details leak to the caller."""
    return problem(500, "internal-error", "Internal error", "an unexpected error occurred")
