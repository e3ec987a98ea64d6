"""The container's Upstash Redis client (REST), for rate limits, dedup, locks and caches.

upstash-redis (and httpx with it) is imported when the first client is built, not at init.
Every call goes through ``deadline()``: upstash-redis builds its httpx client without a timeout,
so an Upstash that accepts a connection and never answers would otherwise hold the request until
the function's own timeout. Redis is for speed only: callers treat ``unavailable()`` as "no answer"
and go on without it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.clients.per_loop import PerLoop
from shared.errors import ConfigurationError
from shared.observability.telemetry import trace_calls
from shared.settings import get_settings
from shared.tls import trust_layer_cas

# Secrets this module reads (shared/settings.py: require_used_secrets, and the serverless.yml test).
SECRETS_USED = ("upstash_redis_rest_token",)

if TYPE_CHECKING:
    from upstash_redis.asyncio import Redis

# Upstash answers in single-digit milliseconds; a 3 s default retry pause would blow the latency budget.
RETRY_INTERVAL_SECONDS = 0.05


@dataclass(frozen=True)
class _Client:
    redis: Redis
    token: str


async def _build() -> _Client:
    trace_calls("httpx")  # upstash-redis calls Upstash through httpx: instrument it before the import
    trust_layer_cas()  # its httpx.AsyncClient takes no TLS setting but SSL_CERT_DIR
    from upstash_redis.asyncio import Redis

    settings = get_settings()
    if not settings.upstash_redis_rest_url or settings.upstash_redis_rest_token is None:
        raise ConfigurationError("UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN are required")
    token = settings.upstash_redis_rest_token.get_secret_value()
    redis = Redis(
        url=settings.upstash_redis_rest_url,
        token=token,
        rest_retries=1,
        rest_retry_interval=RETRY_INTERVAL_SECONDS,
        allow_telemetry=False,
    )
    return _Client(redis, token)


_redis: PerLoop[_Client] = PerLoop(_build)


def deadline() -> asyncio.Timeout:
    """``async with deadline():`` around one Upstash call: ``TimeoutError`` after ``UPSTASH_TIMEOUT_MS``."""
    return asyncio.timeout(get_settings().upstash_timeout_ms / 1000)


def unavailable() -> tuple[type[Exception], ...]:
    """What an Upstash outage raises: httpx's transport errors, Upstash's own, or the deadline.

    Evaluated in an ``except`` clause only when something was raised (httpx loads with the client).
    """
    import httpx
    from upstash_redis.errors import UpstashError

    return (httpx.HTTPError, UpstashError, TimeoutError)


async def get_redis() -> Redis:
    """Return this container's client, built on first use and rebuilt when the token rotated.

    Settings reload secrets after their max age; a client built with an older token is closed.
    """
    client = await _redis.get()
    token = get_settings().upstash_redis_rest_token
    if token is not None and client.token != token.get_secret_value():
        await close_redis()
        client = await _redis.get()
    return client.redis


async def close_redis() -> None:
    """Close this container's HTTP client to Upstash."""
    client = _redis.peek()
    _redis.forget()
    if client is not None:
        await client.redis.close()
