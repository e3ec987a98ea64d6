"""The caller as API Gateway's JWT authorizer verified them (``JWT_VERIFICATION=authorizer``).

Projects that sign with asymmetric keys (ES256/RS256, Supabase's default for new projects) are
verified by the HTTP API's JWT authorizer against the issuer's JWKS before the function runs;
the HTTP layer ships no ``cryptography`` to verify them again. The authorizer hands the function
the claims in ``requestContext.authorizer.jwt.claims`` (payload v2), but as strings ("exp":
"1735689600", objects flattened). So that Postgres gets the very claims a locally verified token
gives (``request.jwt.claims``: numbers, booleans, ``app_metadata`` as objects), the claims are
read from the bearer token's payload, the token the authorizer verified, and accepted only when
they agree with the authorizer's on ``sub``, ``iss`` and ``exp``. A request without the authorizer's
context (a route left without it, an invocation that did not come through API Gateway) is refused.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import jwt

from shared.auth.jwt import principal_from_claims
from shared.auth.principal import Principal
from shared.errors import Unauthorized

# The claims the authorizer itself checks (signature aside), compared as the strings it hands over.
MATCHED_CLAIMS = ("sub", "iss", "exp")


def authorizer_claims(event: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """``requestContext.authorizer.jwt.claims`` of an HTTP API (payload v2) event, if any."""
    context = (event or {}).get("requestContext") or {}
    claims = ((context.get("authorizer") or {}).get("jwt") or {}).get("claims")
    return claims if isinstance(claims, Mapping) and claims else None


def principal_from_authorizer(event: Mapping[str, Any] | None, token: str, leeway_seconds: int) -> Principal:
    """The caller API Gateway's JWT authorizer let through; ``Unauthorized`` without its context."""
    verified = authorizer_claims(event)
    if verified is None:
        raise Unauthorized("no verified claims: this route needs the API Gateway JWT authorizer")
    try:
        # The signature was checked by the authorizer: read the payload it checked, typed as issued.
        claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError as exc:
        raise Unauthorized("invalid token: malformed") from exc
    if any(str(claims.get(name)) != str(verified.get(name)) for name in MATCHED_CLAIMS):
        raise Unauthorized("invalid token: not the token the authorizer verified")
    if not isinstance(claims.get("exp"), int | float) or claims["exp"] + leeway_seconds < time.time():
        raise Unauthorized("token expired")
    return principal_from_claims(claims)
