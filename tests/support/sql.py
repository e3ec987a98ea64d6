"""SQL-level helpers in the style of basejump's test helpers: act as a user, make users."""

from __future__ import annotations

import json
import uuid
from typing import Any

import psycopg


def authenticate_as(conn: psycopg.Connection[Any], user_id: uuid.UUID | None, role: str = "authenticated") -> None:
    """Switch the current transaction to ``role`` with claims for ``user_id`` (None: anon)."""
    claims: dict[str, Any] = {"role": role, "aud": "authenticated" if user_id else "anon"}
    if user_id is not None:
        claims["sub"] = str(user_id)
    conn.execute(
        "select set_config('role', %s, true), set_config('request.jwt.claims', %s, true)",
        (role, json.dumps(claims)),
    )


def reset_role(conn: psycopg.Connection[Any]) -> None:
    """Back to the connecting superuser, inside the same transaction."""
    conn.execute("reset role; select set_config('request.jwt.claims', '', true)")


def make_user(conn: psycopg.Connection[Any], email: str | None = None) -> uuid.UUID:
    """Insert a user into auth.users (as Supabase Auth would) and return its id."""
    user_id = uuid.uuid4()
    conn.execute(
        "insert into auth.users (id, email) values (%s, %s)",
        (user_id, email or f"user-{user_id.hex[:8]}@example.com"),
    )
    return user_id
