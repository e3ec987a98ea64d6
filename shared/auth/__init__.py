"""Verification of Supabase Auth JWTs.

Only ``Principal`` is exported here: use cases need the type, not the verifier. Code that
verifies tokens imports ``shared.auth.jwt`` (and so needs the JWT secret).
"""

from shared.auth.principal import Principal

__all__ = ["Principal"]
