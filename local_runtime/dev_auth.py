"""Development identities: create users as Supabase Auth would and sign their tokens."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
import psycopg

TOKEN_TTL_SECONDS = 24 * 3600


def ensure_user(database_url: str, email: str) -> uuid.UUID:
    """The id of the auth user with ``email``, created if missing."""
    with psycopg.connect(database_url) as conn:
        # Serialised per e-mail: auth.users has no unique e-mail constraint outside Supabase.
        conn.execute("select pg_advisory_xact_lock(hashtext(lower(%s)))", (email,))
        row = conn.execute("select id from auth.users where lower(email) = lower(%s)", (email,)).fetchone()
        if row is None:
            row = conn.execute(
                "insert into auth.users (id, email, email_confirmed_at) values (%s, lower(%s), now()) returning id",
                (uuid.uuid4(), email),
            ).fetchone()
    assert row is not None
    return uuid.UUID(str(row[0]))


def sign_token(secret: str, issuer: str, user_id: uuid.UUID, email: str, ttl: int = TOKEN_TTL_SECONDS) -> str:
    """An HS256 access token shaped like the ones Supabase Auth issues."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": str(user_id),
        "aud": "authenticated",
        "exp": now + ttl,
        "iat": now,
        "email": email,
        "role": "authenticated",
        "aal": "aal1",
        "session_id": str(uuid.uuid4()),
        "is_anonymous": False,
        "app_metadata": {"provider": "email", "providers": ["email"]},
        "user_metadata": {},
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def service_role_key(secret: str) -> str:
    """A service-role key like Supabase's (a long-lived HS256 token, role ``service_role``), for local Storage."""
    now = int(time.time())
    claims = {"iss": "supabase-local", "role": "service_role", "iat": now, "exp": now + 10 * 365 * 86400}
    return jwt.encode(claims, secret, algorithm="HS256")


def create_organization_as(database_url: str, claims_user: uuid.UUID, name: str) -> uuid.UUID:
    """Create an organization through the same RPC the API uses, as ``claims_user``."""
    import json

    with psycopg.connect(database_url) as conn:
        conn.execute(
            "select set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true)",
            (json.dumps({"sub": str(claims_user), "role": "authenticated"}),),
        )
        row = conn.execute("select id from public.create_organization(%s, null)", (name,)).fetchone()
        conn.commit()
    assert row is not None
    return uuid.UUID(str(row[0]))
