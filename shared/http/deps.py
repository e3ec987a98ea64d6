"""Dependencies that also validate: the verified caller, the organization in scope."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import Depends, Header

from shared.auth import Principal
from shared.auth.jwt import get_verifier
from shared.errors import Unauthorized


async def current_principal(authorization: Annotated[str | None, Header()] = None) -> Principal:
    """The caller behind ``Authorization: Bearer <jwt>``; 401 unless the token verifies."""
    if not authorization:
        raise Unauthorized("missing bearer token")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("expected 'Authorization: Bearer <token>'")
    verifier = get_verifier()
    token = token.strip()
    if verifier.needs_key_fetch(token):
        # First asymmetric token in this container: fetching the JWKS blocks, so not on the loop.
        return await anyio.to_thread.run_sync(verifier.verify, token)
    return verifier.verify(token)


CurrentUser = Annotated[Principal, Depends(current_principal)]
