"""Field names in validation errors, as clients send them: ``body.credentials.access_token``.

Pydantic puts the tag of a discriminated union into an error's location (``body.hubspot.…``);
clients never sent a ``hubspot`` key, so the tag is dropped, and a missing or unknown tag is
reported on ``body.kind``. Per-kind checks done after the route (PATCH) name fields the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from shared.errors import FieldError, InvalidInput
from shared.http.problems import from_validation_error
from shared.integrations.kinds import KINDS

_TAG_ERRORS = {"union_tag_invalid", "union_tag_not_found"}


def relocate(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """``errors`` with the union tag taken out of each location."""
    moved: list[dict[str, Any]] = []
    for error in errors:
        loc = tuple(error.get("loc", ()))
        if error.get("type") in _TAG_ERRORS:
            moved.append({**error, "loc": (*loc, "kind"), "msg": f"must be one of {', '.join(KINDS)}"})
        elif len(loc) >= 2 and loc[0] == "body" and loc[1] in KINDS:
            moved.append({**error, "loc": (loc[0], *loc[2:])})
        else:
            moved.append(dict(error))
    return moved


def install(app: FastAPI) -> None:
    """Report the create body's errors by the fields the client sent."""

    async def _validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return from_validation_error(RequestValidationError(relocate(exc.errors())))

    app.add_exception_handler(RequestValidationError, _validation)


def validate_part(model: type[BaseModel], data: Any, field: str) -> BaseModel:
    """``data`` as ``model``, or InvalidInput naming ``body.<field>.<key>`` for each problem."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [
            FieldError(".".join(["body", field, *(str(p) for p in err["loc"])]), err["msg"])
            for err in exc.errors(include_input=False)
        ]
        raise InvalidInput("; ".join(f"{e.field}: {e.message}" for e in errors), errors) from exc
