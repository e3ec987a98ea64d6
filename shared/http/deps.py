"""Dependencies that also validate: the verified caller, the organization in scope."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import Depends, Header, Request

from shared.auth import Principal
from shared.auth.authorizer import principal_from_authorizer
from shared.auth.jwt import get_verifier
from shared.errors import Unauthorized
from shared.settings import get_settings


async def current_principal(request: Request, authorization: Annotated[str | None, Header()] = None) -> Principal:
    """The caller behind ``Authorization: Bearer <jwt>``; 401 unless the token verifies.

    HS256 projects verify here; with ``JWT_VERIFICATION=authorizer`` (asymmetric keys) API Gateway's
    JWT authorizer has verified it and its claims are trusted (``shared.auth.authorizer``).
    """
    if not authorization:
        raise Unauthorized("missing bearer token")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("expected 'Authorization: Bearer <token>'")
    token = token.strip()
    settings = get_settings()
    if settings.jwt_verification == "authorizer":
        return principal_from_authorizer(request.scope.get("aws.event"), token, settings.jwt_leeway_seconds)
    verifier = get_verifier()
    if verifier.needs_key_fetch(token):
        # First asymmetric token in this container: fetching the JWKS blocks, so not on the loop.
        return await anyio.to_thread.run_sync(verifier.verify, token)
    return verifier.verify(token)


CurrentUser = Annotated[Principal, Depends(current_principal)]
