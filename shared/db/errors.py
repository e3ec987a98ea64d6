"""Translate Postgres errors into the project's exceptions, at the database boundary."""

from __future__ import annotations

import json
from typing import Any

import psycopg
from psycopg import errors as pg

from shared.errors import AppError, Conflict, Forbidden, IdempotentReplay, InvalidInput, NotFound, UpstreamUnavailable

IDEMPOTENCY_HEADER = "Idempotency-Key"
# app.claim_idempotency_key_or_raise: the key was used before; DETAIL is the claim.
_KEY_USED = "CA409"


def translate(exc: psycopg.Error) -> AppError | IdempotentReplay:
    """Map one psycopg error to the AppError the caller should see (or the replay of an earlier answer)."""
    diag = exc.diag
    if diag.sqlstate == _KEY_USED:
        return claim_refusal(json.loads(diag.message_detail or "{}")) or AppError("idempotency key not claimed")
    if isinstance(exc, pg.InsufficientPrivilege):
        return Forbidden("not allowed")
    if isinstance(exc, pg.NoDataFound):
        return NotFound(diag.message_primary or "not found")
    if isinstance(exc, pg.UniqueViolation):
        return Conflict(_conflict_detail(diag.constraint_name))
    if isinstance(exc, pg.ForeignKeyViolation):
        return InvalidInput.for_field(_field(diag.column_name, diag.constraint_name), "references a missing row")
    if isinstance(exc, pg.CheckViolation | pg.NotNullViolation | pg.StringDataRightTruncation):
        return InvalidInput.for_field(_field(diag.column_name, diag.constraint_name), "is not valid")
    if isinstance(exc, psycopg.DataError):  # all of SQLSTATE class 22; pg.DataException is only 22000
        return InvalidInput.for_field(_field(diag.column_name, None), diag.message_primary or "is not valid")
    if isinstance(exc, pg.RaiseException) and diag.sqlstate == "P0001":
        return Conflict(diag.message_primary or "conflict")
    if isinstance(exc, pg.QueryCanceled):
        return UpstreamUnavailable("database timeout")
    if isinstance(exc, psycopg.OperationalError):
        return UpstreamUnavailable("database unavailable")
    return AppError("database error")


def _field(column: str | None, constraint: str | None) -> str:
    if column:
        return f"body.{column}"
    if constraint:
        # Our constraints are named <table>_<column>_<kind>; keep the middle as the field.
        parts = constraint.split("_")
        if len(parts) >= 3:
            return "body." + "_".join(parts[1:-1])
    return "body"


def _conflict_detail(constraint: str | None) -> str:
    return f"already exists ({constraint})" if constraint else "already exists"


def claim_refusal(claim: dict[str, Any]) -> AppError | IdempotentReplay | None:
    """What a claimed Idempotency-Key answers: None when new, else the replay, a 422 or a 409."""
    state = claim.get("state")
    if state == "new":
        return None
    if state == "replay":
        return IdempotentReplay(int(claim["status"]), claim["body"])
    if state == "mismatch":
        return InvalidInput.for_field(f"header.{IDEMPOTENCY_HEADER}", "was already used with a different request")
    if state == "busy":
        return Conflict("a request with this Idempotency-Key is still in progress; retry shortly")
    return AppError("idempotency key could not be claimed")
