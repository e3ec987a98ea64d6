"""Opaque keyset cursors over ``(created_at, id)``, an order no later write can shuffle; every list uses them."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.errors import InvalidInput

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


@dataclass(frozen=True)
class Position:
    """A row's place in the order: the page continues strictly after (or before) it."""

    created_at: datetime
    id: uuid.UUID


def encode(created_at: datetime, row_id: uuid.UUID) -> str:
    """The cursor of a row."""
    raw = json.dumps([created_at.isoformat(), str(row_id)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str | None, field: str) -> Position | None:
    """The position a cursor names; ``InvalidInput`` on ``field`` when it is not one of ours."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, row_id = json.loads(raw)
        position = Position(datetime.fromisoformat(created_at), uuid.UUID(row_id))
    except (binascii.Error, ValueError, TypeError) as exc:
        raise InvalidInput.for_field(field, "is not a valid cursor") from exc
    if position.created_at.tzinfo is None:
        raise InvalidInput.for_field(field, "is not a valid cursor")
    return position


def bounds(position: Position | None) -> dict[str, Any]:
    """Query parameters ``after_t`` / ``after_id`` (both null for the first page)."""
    return {"after_t": position.created_at if position else None, "after_id": position.id if position else None}


def split(rows: Sequence[dict[str, Any]], limit: int) -> tuple[list[dict[str, Any]], str | None]:
    """A page from ``limit + 1`` fetched rows, and the cursor of the next page (None at the end)."""
    page = list(rows[:limit])
    if len(rows) <= limit or not page:
        return page, None
    last = page[-1]
    return page, encode(last["created_at"], last["id"])
