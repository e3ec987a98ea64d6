"""Opaque keyset cursors: the ``(created_at, id)`` of the last row of a page, base64url-encoded."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime

from shared.errors import InvalidInput


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    """The cursor that continues after the row ``(created_at, row_id)``."""
    raw = json.dumps([created_at.isoformat(), str(row_id)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The position a cursor names; 422 on ``query.cursor`` when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, row_id = json.loads(raw)
        position = datetime.fromisoformat(created_at), uuid.UUID(row_id)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise InvalidInput.for_field("query.cursor", "is not a cursor this API returned") from exc
    if position[0].tzinfo is None:
        raise InvalidInput.for_field("query.cursor", "is not a cursor this API returned")
    return position
