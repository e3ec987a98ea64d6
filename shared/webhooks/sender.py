"""One signed POST of one event to one endpoint, and what came back (status, first 1 KB, timing)."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from shared import public_urls
from shared.clients.http import get_http
from shared.events.ids import delivery_public_id, event_public_id
from shared.webhooks.signing import DELIVERY_ID_HEADER, EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, sign
from shared.webhooks.urls import may_call_loopback

USER_AGENT = "conversion-agents-webhooks/1"
EXCERPT_CHARS = 1024
# Receivers should answer fast and do their work later; a slow one must not hold the batch.
TIMEOUT = httpx.Timeout(10.0, connect=3.0)


@dataclass(frozen=True)
class Target:
    """An event and the endpoint it goes to, with the endpoint's active signing secrets."""

    endpoint_id: uuid.UUID
    organization_id: uuid.UUID
    url: str
    secrets: list[str]
    event_id: uuid.UUID
    event_type: str
    payload: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class Response:
    """The result of one POST: ``ok`` for any 2xx; redirects are not followed and count as failures."""

    ok: bool
    duration_ms: int
    status: int | None = None
    body: str | None = None
    error: str | None = None


def envelope(target: Target) -> bytes:
    """The request body: the event with its public id, as compact UTF-8 JSON."""
    event = {
        "id": event_public_id(target.event_id),
        "object": "event",
        "type": target.event_type,
        "created_at": target.created_at.isoformat(),
        "organization_id": str(target.organization_id),
        "data": target.payload,
    }
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()


def headers(target: Target, body: bytes, delivery_id: uuid.UUID, timestamp: int) -> dict[str, str]:
    """Signature and ids: ``CA-Event-Id`` is stable across retries, ``CA-Delivery-Id`` is per attempt."""
    return {
        "content-type": "application/json; charset=utf-8",
        "user-agent": USER_AGENT,
        SIGNATURE_HEADER: sign(body, target.secrets, timestamp),
        EVENT_ID_HEADER: event_public_id(target.event_id),
        DELIVERY_ID_HEADER: delivery_public_id(delivery_id),
        EVENT_TYPE_HEADER: target.event_type,
    }


async def post(target: Target, delivery_id: uuid.UUID) -> Response:
    """POST the signed event; network failures are returned, not raised."""
    body = envelope(target)
    started = time.perf_counter()
    client = await get_http()
    try:
        response = await public_urls.send(
            client,
            "POST",
            target.url,
            allow_loopback=may_call_loopback(),
            content=body,
            headers=headers(target, body, delivery_id, int(time.time())),
            timeout=TIMEOUT,
        )
        try:
            excerpt = await _excerpt(response)
        finally:
            await response.aclose()
    except public_urls.NotPublic:
        # Checked at every attempt: a name may have been re-pointed since the endpoint was saved.
        return Response(ok=False, duration_ms=_since(started), error="refused: the host is not public")
    except httpx.TimeoutException:
        return Response(ok=False, duration_ms=_since(started), error="timed out")
    except httpx.HTTPError as exc:
        # The exception text can repeat the URL, which may embed a token: keep only its kind.
        return Response(ok=False, duration_ms=_since(started), error=f"request failed ({type(exc).__name__})")
    ok = response.is_success
    error = None if ok else f"answered {response.status_code}"
    return Response(ok=ok, duration_ms=_since(started), status=response.status_code, body=excerpt, error=error)


async def _excerpt(response: httpx.Response) -> str | None:
    """The first 1 KB of the body, without reading (or buffering) the rest."""
    received = bytearray()
    async for chunk in response.aiter_bytes():
        received += chunk
        if len(received) >= EXCERPT_CHARS:
            break
    return bytes(received[:EXCERPT_CHARS]).decode("utf-8", "replace")[:EXCERPT_CHARS] or None


def _since(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
