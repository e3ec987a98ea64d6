"""Ephemeral events (typing) on a conversation's Supabase Realtime channel, over REST.

Rows reach the web through postgres_changes on their insert; this carries only what is
not stored, on a private channel (Realtime Authorization: policies on realtime.messages).
Best effort: a broadcast that fails is logged, never raised. A Realtime that cannot be reached
(connection refused, no route, connect timeout) is not tried again for ``UNREACHABLE_PAUSE_SECONDS``:
otherwise every turn would pay a connection attempt, up to the timeout, and a log line, for an
ephemeral event nobody can receive.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

from shared.clients.http import get_http
from shared.observability import logger
from shared.settings import get_settings

# Read when present: without it broadcasts are skipped (serverless.yml still gives it to the turn worker).
SECRETS_OPTIONAL = ("supabase_service_role_key",)
UNREACHABLE_PAUSE_SECONDS = 30.0
_paused_until: dict[str, float] = {}  # per broadcast URL, this container's clock: when to try it again


def channel_topic(conversation_id: uuid.UUID) -> str:
    """The channel a web client subscribes to for one conversation."""
    return f"conversation:{conversation_id}"


async def broadcast(conversation_id: uuid.UUID, event: str, payload: dict[str, Any]) -> bool:
    """Send ``event`` to the conversation's channel; True when Realtime accepted it."""
    settings = get_settings()
    if settings.supabase_service_role_key is None:
        return False
    url = f"{settings.supabase_url}/realtime/v1/api/broadcast"
    if _paused_until.get(url, 0.0) > time.monotonic():
        return False
    key = settings.supabase_service_role_key.get_secret_value()
    # Private: only clients the realtime.messages policies admit (members of the organization) receive it.
    message = {"topic": channel_topic(conversation_id), "event": event, "payload": payload, "private": True}
    body = {"messages": [message]}
    try:
        client = await get_http()
        response = await client.post(
            url,
            json=body,
            headers={"apikey": key, "authorization": f"Bearer {key}"},
            timeout=2.0,
        )
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        _paused_until[url] = time.monotonic() + UNREACHABLE_PAUSE_SECONDS
        logger.warning(
            "realtime unreachable; broadcasts paused",
            extra={"event": event, "error": type(exc).__name__, "seconds": UNREACHABLE_PAUSE_SECONDS},
        )
        return False
    except httpx.HTTPError as exc:
        logger.warning("realtime broadcast failed", extra={"event": event, "error": type(exc).__name__})
        return False
    if response.status_code >= 300:
        logger.warning("realtime broadcast refused", extra={"event": event, "status": response.status_code})
        return False
    return True
