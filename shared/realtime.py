"""Ephemeral events (typing) on a conversation's Supabase Realtime channel, over REST.

Rows reach the web through postgres_changes on their insert; this carries only what is
not stored. Best effort: a broadcast that fails is logged, never raised.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from shared.clients.http import get_http
from shared.observability import logger
from shared.settings import get_settings

# Read when present: without it broadcasts are skipped (serverless.yml still gives it to the turn worker).
SECRETS_OPTIONAL = ("supabase_service_role_key",)


def channel_topic(conversation_id: uuid.UUID) -> str:
    """The channel a web client subscribes to for one conversation."""
    return f"conversation:{conversation_id}"


async def broadcast(conversation_id: uuid.UUID, event: str, payload: dict[str, Any]) -> bool:
    """Send ``event`` to the conversation's channel; True when Realtime accepted it."""
    settings = get_settings()
    if settings.supabase_service_role_key is None:
        return False
    key = settings.supabase_service_role_key.get_secret_value()
    body = {"messages": [{"topic": channel_topic(conversation_id), "event": event, "payload": payload}]}
    try:
        client = await get_http()
        response = await client.post(
            f"{settings.supabase_url}/realtime/v1/api/broadcast",
            json=body,
            headers={"apikey": key, "authorization": f"Bearer {key}"},
            timeout=2.0,
        )
    except httpx.HTTPError as exc:
        logger.warning("realtime broadcast failed", extra={"event": event, "error": type(exc).__name__})
        return False
    if response.status_code >= 300:
        logger.warning("realtime broadcast refused", extra={"event": event, "status": response.status_code})
        return False
    return True
