"""Cursors: opaque, round-trip exactly, and refuse anything that is not one of ours."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from shared import pagination
from shared.errors import InvalidInput

WHEN = datetime(2026, 11, 25, 12, 30, 1, 123456, tzinfo=UTC)


def test_a_cursor_round_trips() -> None:
    # given a row's position / when it is encoded and decoded / then it is the same position
    row_id = uuid.uuid4()
    assert pagination.decode(pagination.encode(WHEN, row_id), "query.cursor") == pagination.Position(WHEN, row_id)


def test_no_cursor_is_the_first_page() -> None:
    assert pagination.decode(None, "query.cursor") is None
    assert pagination.bounds(None) == {"after_t": None, "after_id": None}


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!",
        base64.urlsafe_b64encode(b"not json").decode(),
        base64.urlsafe_b64encode(b'{"a": 1}').decode(),
        base64.urlsafe_b64encode(b'["2026-11-25T12:00:00", "00000000-0000-0000-0000-000000000000"]').decode(),
        base64.urlsafe_b64encode(b'["yesterday", "00000000-0000-0000-0000-000000000000"]').decode(),
    ],
)
def test_a_foreign_cursor_names_the_field(cursor: str) -> None:
    # given something that is not a cursor we issued / when decoded / then InvalidInput on the field
    with pytest.raises(InvalidInput) as caught:
        pagination.decode(cursor, "query.messages_cursor")
    assert [e.field for e in caught.value.errors] == ["query.messages_cursor"]


def test_split_returns_the_next_cursor_only_when_more_rows_exist() -> None:
    # given limit + 1 rows fetched
    rows: list[dict[str, Any]] = [{"created_at": WHEN, "id": uuid.uuid4()} for _ in range(3)]
    # when split at 2 / then the next cursor points after the second row
    page, cursor = pagination.split(rows, 2)
    assert page == rows[:2]
    assert cursor == pagination.encode(WHEN, rows[1]["id"])
    # and a short page is the last one
    assert pagination.split(rows[:2], 2) == (rows[:2], None)
    assert pagination.split([], 2) == ([], None)
