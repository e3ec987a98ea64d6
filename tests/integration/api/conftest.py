"""API tier: real handlers, real Postgres and Redis, tokens signed with the test secret."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.support.api import LambdaApi
from tests.support.tokens import hs256_token


@dataclass(frozen=True)
class Member:
    """A user of the test database with a signed token."""

    user_id: uuid.UUID
    email: str
    token: str


@pytest.fixture(scope="session")
def api(app_env: dict[str, str]) -> LambdaApi:
    return LambdaApi()


@pytest.fixture
def make_user(database_url: str, jwt_secret: str) -> Callable[..., Member]:
    """Create an auth user (committed) and sign a token for them."""

    def _make(email: str | None = None) -> Member:
        user_id = uuid.uuid4()
        address = email or f"user-{user_id.hex[:10]}@example.com"
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("insert into auth.users (id, email) values (%s, %s)", (user_id, address))
        return Member(user_id, address, hs256_token(jwt_secret, user_id, address))

    return _make


@pytest.fixture
def make_org(database_url: str, make_user: Callable[..., Member]) -> Callable[..., dict[str, Any]]:
    """An organization with one member per role: {"id", "owner", "admin", "editor", "viewer"}."""

    def _make() -> dict[str, Any]:
        org_id = uuid.uuid4()
        members = {role: make_user() for role in ("owner", "admin", "editor", "viewer")}
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(
                "insert into public.organizations (id, name, slug, created_by) values (%s, %s, %s, %s)",
                (org_id, f"Org {org_id.hex[:6]}", f"org-{org_id.hex[:12]}", members["owner"].user_id),
            )
            for role, member in members.items():
                conn.execute(
                    "insert into public.memberships (organization_id, user_id, role) values (%s, %s, %s)",
                    (org_id, member.user_id, role),
                )
        return {"id": org_id, **members}

    return _make


@pytest.fixture
def make_agent(database_url: str) -> Callable[..., str]:
    """An agent of the organization with its configuration version 1 (``config``, default empty); its id."""

    def _make(organization_id: object, config: dict[str, Any] | None = None) -> str:
        with psycopg.connect(database_url, autocommit=True) as conn:
            row = conn.execute(
                "insert into public.agents (organization_id, name) values (%s, 'A') returning id", (organization_id,)
            ).fetchone()
            assert row is not None
            conn.execute(
                "insert into public.agent_versions (organization_id, agent_id, version, config) values (%s, %s, 1, %s)",
                (organization_id, row[0], Jsonb(config or {})),
            )
        return str(row[0])

    return _make
