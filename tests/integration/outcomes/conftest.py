"""Outcomes tier: a small seeded data set (bench/datasets/outcomes.py), its rollup, and members with tokens."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from bench.datasets.outcomes import Org, generate
from tests.support.api import LambdaApi
from tests.support.tokens import hs256_token

CONVERSATIONS = 400  # per organization
RANGE = "from=2026-08-01T00:00:00Z&to=2026-11-01T00:00:00Z"  # every generated conversation


@dataclass(frozen=True)
class Member:
    """A user with a signed token."""

    user_id: uuid.UUID
    token: str


@pytest.fixture(scope="session")
def api(app_env: dict[str, str]) -> LambdaApi:
    return LambdaApi()


@pytest.fixture(scope="module")
def seeded(database_url: str) -> list[Org]:
    """Three organizations of 400 conversations each (a seed of their own), the rollup refreshed."""
    orgs = generate(database_url, seed=f"test-{uuid.uuid4().hex[:8]}", orgs=3, conversations=CONVERSATIONS)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("select app.refresh_analytics(true)")
    return orgs


@pytest.fixture(scope="module")
def member_of(database_url: str, jwt_secret: str) -> Callable[[uuid.UUID, str], Member]:
    """A new user with ``role`` in the organization."""

    def _make(organization_id: uuid.UUID, role: str) -> Member:
        user_id = uuid.uuid4()
        email = f"{role}-{user_id.hex[:10]}@outcomes.test"
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("insert into auth.users (id, email) values (%s, %s)", (user_id, email))
            conn.execute(
                "insert into public.memberships (organization_id, user_id, role) values (%s, %s, %s)",
                (organization_id, user_id, role),
            )
        return Member(user_id, hs256_token(jwt_secret, user_id, email))

    return _make


def scalar(database_url: str, sql: str, params: Any) -> Any:
    """One value, read by the superuser straight from the raw tables."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(sql, params).fetchone()
    assert row is not None
    return row[0]
