"""Verification of Supabase Auth JWTs."""

from shared.auth.jwt import Principal, TokenVerifier, get_verifier

__all__ = ["Principal", "TokenVerifier", "get_verifier"]
