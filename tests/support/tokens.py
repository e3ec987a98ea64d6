"""Supabase-shaped access tokens for tests."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt

ISSUER = "http://127.0.0.1:54321/auth/v1"


def claims_for(user_id: uuid.UUID, email: str | None = None, **overrides: Any) -> dict[str, Any]:
    """The claims Supabase Auth puts in a user's access token."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": str(user_id),
        "aud": "authenticated",
        "exp": now + 3600,
        "iat": now,
        "email": email or f"user-{user_id.hex[:8]}@example.com",
        "phone": "",
        "role": "authenticated",
        "aal": "aal1",
        "session_id": str(uuid.uuid4()),
        "is_anonymous": False,
        "app_metadata": {"provider": "email", "providers": ["email"]},
        "user_metadata": {},
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def hs256_token(secret: str, user_id: uuid.UUID, email: str | None = None, **overrides: Any) -> str:
    """A token signed the way a Supabase project with a legacy JWT secret signs it."""
    return jwt.encode(claims_for(user_id, email, **overrides), secret, algorithm="HS256")
