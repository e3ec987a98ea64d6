"""``Idempotency-Key`` for POSTs, with Postgres as the only record.

A use case claims the key in the script that writes (``claim_first``, the script's first
statement) and remembers its response in that same transaction (``app.remember_response`` in
the write's statement, or ``remember``), so a key is either bound to a committed change and its
response, or to nothing, and the write stays one round trip. A repeat with the same request
gets the stored response again (``IdempotentReplay``); a different request under the same key is a 422; a duplicate
that arrives while the first still runs finds the key locked and gets a 409.
Keys are scoped to the signed-in caller (or, on the public widget, to the caller's address
and agent when it starts, or the conversation its visitor token unlocks) and expire after
24 hours.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, LiteralString

from fastapi import Depends, Header, Request
from pydantic import BaseModel

from shared import json_body
from shared.db import KeyedClaim, Statement
from shared.db.errors import IDEMPOTENCY_HEADER as HEADER
from shared.errors import AppError, IdempotentReplay, InvalidInput

_VALID = re.compile(r"^[\x21-\x7e]{1,255}$")


@dataclass(frozen=True)
class IdempotencyKey:
    """The client's key and a hash of the request it came with."""

    key: str
    request_hash: str


async def idempotency_key(
    request: Request, value: Annotated[str | None, Header(alias=HEADER)] = None
) -> IdempotencyKey | None:
    """Route dependency: the validated key, or None when the client sent none."""
    if value is None:
        return None
    if not _VALID.match(value):
        raise InvalidInput.for_field(f"header.{HEADER}", "must be 1 to 255 visible ASCII characters")
    body = await request.body()  # Starlette caches it, so the route still reads it
    return IdempotencyKey(value, request_hash(request.method, request.url.path, body))


IdempotencyKeyHeader = Annotated[IdempotencyKey | None, Depends(idempotency_key)]


def request_hash(method: str, path: str, body: bytes) -> str:
    """SHA-256 of the method, path and body (JSON compared by value, not by spacing or key order)."""
    try:
        canonical = json.dumps(json_body.parse(body), sort_keys=True, separators=(",", ":")).encode()
    except AppError:  # not JSON (or past the limits): hashed as bytes; the route answers the 4xx
        canonical = body
    return hashlib.sha256(f"{method} {path}\n".encode() + canonical).hexdigest()


def claim_first(key: IdempotencyKey | None, *, scope: str | None = None) -> Statement:
    """A write script's first statement: claim ``key``, or stop the script (``shared.db.errors`` says why).

    With a key, the script may be sent again after a lost answer (a ``KeyedClaim``); without one, once.
    """
    sql: LiteralString = "select app.claim_idempotency_key_or_raise(%s, %s, %s)"
    if key is None:
        return (sql, (None, None, scope))
    return KeyedClaim((sql, (key.key, key.request_hash, scope)))


def remembered(key: IdempotencyKey | None, *, scope: str | None = None) -> dict[str, Any]:
    """The parameters of a write statement that calls
    ``app.remember_response(%(idem_key)s, %(idem_hash)s, <organization>, <status>, <body>, %(idem_scope)s)``."""
    return {"idem_key": key.key if key else None, "idem_hash": key.request_hash if key else None, "idem_scope": scope}


def remember(
    key: IdempotencyKey | None,
    organization_id: uuid.UUID,
    status: int,
    response: BaseModel,
    *,
    scope: str | None = None,
    omit: str | None = None,
) -> Statement:
    """A statement that stores ``response`` (held by Python) as the answer to ``key``; nothing without a key."""
    body = response.model_dump_json(exclude={omit} if omit else None)
    return (
        "select app.remember_response(%(idem_key)s, %(idem_hash)s, %(organization_id)s, %(status)s, %(body)s::jsonb,"
        " %(idem_scope)s)",
        {**remembered(key, scope=scope), "organization_id": organization_id, "status": status, "body": body},
    )


async def replay_before_refusing(
    write: Callable[..., Awaitable[object]], key: IdempotencyKey | None, *, scope: str | None = None
) -> None:
    """Raise the key's replay, if it has one, before a refusal: a replay answers even once a check fails."""
    if key is not None:
        await write(claim_first(key, scope=scope), ("select 1", ()))


def replayed_as(replay: IdempotentReplay, model: type[BaseModel], **extra: Any) -> IdempotentReplay:
    """A replay answered as ``model``, as the first answer was: a body stored as a row's jsonb is validated again."""
    return IdempotentReplay(replay.status, model.model_validate({**replay.body, **extra}).model_dump(mode="json"))
