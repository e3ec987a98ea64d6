"""Credentials of the public web widget: the agent's publishable key and Origin, then a visitor token.

The visitor token is returned once, when the widget starts a conversation; only its
SHA-256 is stored, and a presented token is compared with it in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request

from shared.errors import Unauthorized
from shared.ratelimit import source_ip

VISITOR_PREFIX = "vt_"
_MAX_CREDENTIAL_LENGTH = 200
# Compared against when a conversation has no token, so a miss costs the same as a mismatch.
_NO_HASH = bytes(32)


@dataclass(frozen=True)
class WidgetClient:
    """What a widget presents when it starts a conversation, and the address it came from."""

    publishable_key: str
    origin: str | None
    source_ip: str = "unknown"

    def idempotency_scope(self, agent_id: uuid.UUID) -> str:
        """Keys of an anonymous caller are theirs alone: the agent and the caller's address, hashed."""
        return "visitor:" + hashlib.sha256(f"{agent_id}\n{self.source_ip}".encode()).hexdigest()


def new_token() -> str:
    """A fresh visitor token (256 random bits)."""
    return VISITOR_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> bytes:
    """What is stored for a token."""
    return hashlib.sha256(token.encode()).digest()


def token_matches(token: str, stored: bytes | None) -> bool:
    """True when ``token`` hashes to ``stored``, compared in constant time."""
    return hmac.compare_digest(token_hash(token), stored or _NO_HASH) and stored is not None


async def widget_client(
    request: Request,
    x_publishable_key: Annotated[str | None, Header()] = None,
    origin: Annotated[str | None, Header()] = None,
) -> WidgetClient:
    """Route dependency: the publishable key (401 without one), the browser's Origin and the source IP."""
    if not x_publishable_key or len(x_publishable_key) > _MAX_CREDENTIAL_LENGTH:
        raise Unauthorized("send the agent's publishable key in X-Publishable-Key")
    return WidgetClient(x_publishable_key, origin, source_ip(request))


async def visitor_token(
    authorization: Annotated[str | None, Header()] = None, x_visitor_token: Annotated[str | None, Header()] = None
) -> str:
    """Route dependency: the visitor token from ``Authorization: Bearer`` or ``X-Visitor-Token``."""
    token = x_visitor_token
    if token is None and authorization:
        scheme, _, value = authorization.partition(" ")
        token = value.strip() if scheme.lower() == "bearer" else None
    if not token or len(token) > _MAX_CREDENTIAL_LENGTH:
        raise Unauthorized("send the visitor token as 'Authorization: Bearer <token>' or X-Visitor-Token")
    return token


Client = Annotated[WidgetClient, Depends(widget_client)]
VisitorToken = Annotated[str, Depends(visitor_token)]
