"""The container's outbound HTTP client (Realtime broadcast, WhatsApp Graph API, CRMs).

httpx is imported when the first client is built, not at init: a function that never calls out
does not pay for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.clients.per_loop import PerLoop
from shared.observability.telemetry import trace_calls
from shared.tls import trust_layer_cas

if TYPE_CHECKING:
    import httpx


async def _build() -> httpx.AsyncClient:
    trace_calls("httpx")  # before the client is built: X-Ray swaps in an instrumented class
    trust_layer_cas()
    import httpx

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
