"""The fast path of deduplication: ``SET NX`` on each wamid in Upstash Redis.

A copy of a delivery that is already being stored (or was stored) stops here, before any SQL.
The claim is short-lived until the store commits, and only then held for days, so Redis never
holds the only record of a message: if the store fails the claim is released (or, if the
process dies, expires within ``CLAIM_SECONDS``) and Meta's retry gets through. The unique
``(organization_id, channel_message_id)`` constraint stays the authority. Redis failing means
no fast path, never a refused delivery.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from shared.clients.redis import deadline, get_redis, unavailable
from shared.observability import logger, metrics

if TYPE_CHECKING:
    from upstash_redis.asyncio.client import AsyncPipeline

Command = Callable[["AsyncPipeline", str], object]

PREFIX = "ca:wa:wamid"
CLAIM_SECONDS = 60
SEEN_SECONDS = 3 * 24 * 3600  # Meta retries for days; a replay older than this meets the unique constraint


def key(phone_number_id: str, wamid: str) -> str:
    """The Redis key of one message of one number."""
    return f"{PREFIX}:{phone_number_id}:{wamid}"


async def claim(keys: Sequence[str]) -> set[str]:
    """Claim ``keys``; returns those this call won (all of them when Redis is unavailable)."""
    won = await _each(keys, lambda pipe, k: pipe.set(k, "1", nx=True, ex=CLAIM_SECONDS))
    if won is None:
        return set(keys)
    return {k for k, ok in zip(keys, won, strict=True) if ok}


async def confirm(keys: Sequence[str]) -> None:
    """Hold ``keys`` for days once their messages are committed."""
    await _each(keys, lambda pipe, k: pipe.set(k, "1", ex=SEEN_SECONDS))


async def release(keys: Sequence[str]) -> None:
    """Give ``keys`` up after a failed store, so Meta's retry is not mistaken for a copy."""
    await _each(keys, lambda pipe, k: pipe.delete(k))


async def _each(keys: Sequence[str], command: Command) -> list[object] | None:
    """``command`` on every key, in one pipeline within the deadline; its results, or None when Redis gave none."""
    if not keys:
        return []
    pipe = (await get_redis()).pipeline()
    for k in keys:
        command(pipe, k)
    try:
        async with deadline():
            return list(await pipe.exec())
    except unavailable() as exc:
        _unavailable(exc)
        return None


def _unavailable(exc: Exception) -> None:
    logger.warning("whatsapp dedup unavailable; the database deduplicates", extra={"error": type(exc).__name__})
    metrics.add_metric(name="WhatsAppDedupUnavailable", unit="Count", value=1)
