"""Visitor tokens: random, stored only as a hash, and read from either header."""

from __future__ import annotations

import uuid

import pytest
from starlette.requests import Request

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


def _request(ip: str) -> Request:
    return Request({"type": "http", "headers": [], "client": (ip, 4242)})


def test_the_publishable_key_is_required() -> None:
    with pytest.raises(Unauthorized):
        run(widget_client(_request("203.0.113.1"), None, "https://x.example"))
    assert run(widget_client(_request("203.0.113.1"), "pk_1", None)).origin is None


def test_idempotency_keys_of_a_widget_caller_are_scoped_to_its_address() -> None:
    # given two callers of the same agent, and one calling again
    agent = uuid.uuid4()
    first, other, again = (
        run(widget_client(_request(ip), "pk_1", None)) for ip in ("203.0.113.1", "203.0.113.2", "203.0.113.1")
    )
    # then only the same caller shares a scope (a hash, so no address is stored)
    assert first.idempotency_scope(agent) == again.idempotency_scope(agent) != other.idempotency_scope(agent)
    assert "203.0.113" not in first.idempotency_scope(agent)
