"""Per-organization and per-IP request limits: upstash-ratelimit's sliding window over Upstash Redis.

The window objects are built once per container (per limit). upstash-ratelimit's
``Ratelimit`` wrapper would pin one Redis client, while ours is rebuilt per event loop,
so the window is called with the current client. Like the JS SDK's ephemeral cache, a
refused identifier is remembered in the container until its window resets, so a client
hammering a warm function costs no Redis call. Redis is for speed only: when it fails or does
not answer within ``UPSTASH_TIMEOUT_MS``, requests are let through (logged), never refused. A
public read counts its request alongside its own work (``limit_by_ip_alongside``) and answers
the refusal if there is one.
upstash-ratelimit, upstash-redis and httpx are imported at the first check, so a function
that never rate-limits never loads them.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from functools import lru_cache
from typing import TYPE_CHECKING

from fastapi import Request

from shared.clients.redis import deadline, get_redis, unavailable
from shared.errors import RateLimited
from shared.observability import logger, metrics
from shared.settings import get_settings

if TYPE_CHECKING:
    from upstash_ratelimit import SlidingWindow

PREFIX = "ca:ratelimit"
WINDOW_SECONDS = 60
_BLOCKED_MAX = 10_000
# identifier -> when its window resets (epoch seconds); lives as long as the warm container.
_blocked: dict[str, float] = {}


@lru_cache(maxsize=16)
def _window(per_minute: int) -> SlidingWindow:
    from upstash_ratelimit import SlidingWindow

    return SlidingWindow(max_requests=per_minute, window=WINDOW_SECONDS, unit="s")


async def limit_organization(organization_id: object) -> None:
    """Count one request against the organization; ``RateLimited`` when over its limit."""
    await enforce(f"org:{organization_id}", get_settings().rate_limit_org_per_minute)


async def limit_ip(ip: str) -> None:
    """Count one request against a client IP; ``RateLimited`` when over its limit."""
    await enforce(_ip(ip), get_settings().rate_limit_ip_per_minute)


async def enforce(identifier: str, per_minute: int) -> None:
    """Allow one request for ``identifier`` or raise ``RateLimited`` with a Retry-After."""
    key = _key(identifier)
    _refuse_if_blocked(key)
    await _count(key, per_minute)


def _key(identifier: str) -> str:
    return f"{PREFIX}:{identifier}"


def _ip(ip: str) -> str:
    return f"ip:{ip}"


def _refuse_if_blocked(key: str) -> None:
    """``RateLimited`` at once for an identifier this container refused in its current window."""
    now = time.time()
    reset = _blocked.get(key)
    if reset is not None and reset > now:
        raise _refusal(reset, now)


async def _count(key: str, per_minute: int) -> None:
    """Count one request in Redis; ``RateLimited`` (and remembered) when over the limit."""
    now = time.time()
    window, redis = _window(per_minute), await get_redis()
    try:
        async with deadline():
            response = await window.limit_async(redis, key)
    except unavailable() as exc:
        logger.warning("rate limit unavailable; request allowed", extra={"error": type(exc).__name__})
        metrics.add_metric(name="RateLimitUnavailable", unit="Count", value=1)
        return
    if response.allowed:
        return
    if len(_blocked) >= _BLOCKED_MAX:
        _blocked.clear()
    _blocked[key] = response.reset
    metrics.add_metric(name="RateLimited", unit="Count", value=1)
    raise _refusal(response.reset, now)


def _refusal(reset: float, now: float) -> RateLimited:
    return RateLimited("too many requests; slow down", retry_after=max(1, math.ceil(reset - now)))


def source_ip(request: Request) -> str:
    """The caller's IP as API Gateway saw it (Mangum puts the event in the scope)."""
    event = request.scope.get("aws.event") or {}
    ip = ((event.get("requestContext") or {}).get("http") or {}).get("sourceIp")
    if ip:
        return str(ip)
    return request.client.host if request.client else "unknown"


async def limit_by_ip(request: Request) -> None:
    """Route dependency: the per-IP limit for public endpoints, checked before any other work."""
    await limit_ip(source_ip(request))


async def limit_by_ip_alongside(request: Request) -> AsyncIterator[None]:
    """Route dependency for side-effect-free reads: the per-IP limit, counted while the route works.

    Use it as ``Depends(limit_by_ip_alongside, scope="function")``. An IP this container already
    refused is refused at once, before any work. Otherwise its Redis count runs concurrently with the
    rest of the request (the read's database round trip), and is settled before anything is answered,
    whatever the route did: over the limit, the answer is the 429 (and whatever the read found is
    thrown away; it changed nothing). Every request still counts, the 401s and 422s too, as with
    ``limit_by_ip``; the limit no longer adds its round trip to the read's.
    """
    key = _key(_ip(source_ip(request)))
    _refuse_if_blocked(key)
    counted = asyncio.ensure_future(_count(key, get_settings().rate_limit_ip_per_minute))
    try:
        yield
    except BaseException:
        await counted  # a refusal replaces the route's own error
        raise
    await counted
