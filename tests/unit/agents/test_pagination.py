"""Opaque keyset cursors."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

import pytest

from shared.agents.pagination import decode_cursor, encode_cursor
from shared.errors import InvalidInput


def test_a_cursor_round_trips_to_the_microsecond() -> None:
    position = (datetime(2026, 11, 3, 12, 0, 0, 123456, tzinfo=UTC), uuid.uuid4())
    cursor = encode_cursor(*position)
    assert "=" not in cursor
    assert decode_cursor(cursor) == position


@pytest.mark.parametrize(
    "cursor",
    [
        "not-base64!",
        base64.urlsafe_b64encode(b"{}").decode(),
        base64.urlsafe_b64encode(b'["2026-11-03T12:00:00", "x"]').decode(),
        base64.urlsafe_b64encode(b'["2026-11-03T12:00:00", "7d3f5d38-6f2c-4b7e-9d43-1f4f0f7c1a11"]').decode(),
        base64.urlsafe_b64encode(b"[1, 2]").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_anything_else_is_invalid_on_query_cursor(cursor: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        decode_cursor(cursor)
    assert exc.value.errors[0].field == "query.cursor"
