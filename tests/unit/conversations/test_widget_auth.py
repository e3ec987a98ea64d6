"""Visitor tokens: random, stored only as a hash, and read from either header."""

from __future__ import annotations

import pytest

from shared.conversations.widget_auth import new_token, token_hash, token_matches, visitor_token, widget_client
from shared.errors import Unauthorized
from tests.support.aio import run


def test_a_token_matches_only_its_own_hash() -> None:
    token, other = new_token(), new_token()
    assert token != other
    assert token.startswith("vt_")
    assert len(token_hash(token)) == 32
    assert token_matches(token, token_hash(token))
    assert not token_matches(other, token_hash(token))
    assert not token_matches(token, None)


@pytest.mark.parametrize(
    ("authorization", "x_visitor_token", "expected"),
    [("Bearer vt_abc", None, "vt_abc"), ("bearer  vt_abc ", None, "vt_abc"), (None, "vt_xyz", "vt_xyz")],
)
def test_the_token_is_read_from_either_header(
    authorization: str | None, x_visitor_token: str | None, expected: str
) -> None:
    assert run(visitor_token(authorization, x_visitor_token)) == expected


@pytest.mark.parametrize(
    ("authorization", "x_visitor_token"), [(None, None), ("Basic abc", None), ("Bearer ", None), (None, "x" * 201)]
)
def test_a_missing_token_is_unauthorized(authorization: str | None, x_visitor_token: str | None) -> None:
    with pytest.raises(Unauthorized):
        run(visitor_token(authorization, x_visitor_token))


def test_the_publishable_key_is_required() -> None:
    with pytest.raises(Unauthorized):
        run(widget_client(None, "https://x.example"))
    assert run(widget_client("pk_1", None)).origin is None
