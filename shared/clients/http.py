"""The container's outbound HTTP client (Realtime broadcast, WhatsApp Graph API, CRMs)."""

from __future__ import annotations

import httpx

from shared.clients.per_loop import PerLoop


async def _build() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(10.0, connect=3.0),
        limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
        headers={"user-agent": "conversion-agents"},
    )


_client: PerLoop[httpx.AsyncClient] = PerLoop(_build)


async def get_http() -> httpx.AsyncClient:
    """One pooled client per container, reused across warm invocations."""
    return await _client.get()


async def close_http() -> None:
    """Close this container's HTTP client."""
    client = _client.peek()
    _client.forget()
    if client is not None:
        await client.aclose()
