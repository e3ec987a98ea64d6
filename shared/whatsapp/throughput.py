"""The per-number send rate: a token bucket in Upstash Redis, keyed by ``phone_number_id``.

Meta allows a number about 80 messages a second by default (beyond it: error 130429). Every
worker container sending from one number draws from the same bucket; a sender that finds it
empty waits for the refill rather than being refused. Redis failing, or not answering within
``UPSTASH_TIMEOUT_MS``, lets the send through.
"""

from __future__ import annotations

import asyncio
import time
from functools import lru_cache
from typing import TYPE_CHECKING

from shared.clients.redis import deadline, get_redis, unavailable
from shared.errors import UpstreamUnavailable
from shared.observability import logger, metrics

if TYPE_CHECKING:
    from upstash_ratelimit import TokenBucket

PREFIX = "ca:wa:throughput"
DEFAULT_PER_SECOND = 80
MAX_WAIT_SECONDS = 5.0
_sleep = asyncio.sleep  # replaced in tests, which do not wait


@lru_cache(maxsize=16)
def _bucket(per_second: int) -> TokenBucket:
    from upstash_ratelimit import TokenBucket

    return TokenBucket(max_tokens=per_second, refill_rate=per_second, interval=1, unit="s")


def rate(config: object) -> int:
    """The integration's ``throughput_per_second``, or the default."""
    value = config.get("throughput_per_second") if isinstance(config, dict) else None
    return value if isinstance(value, int) and 0 < value <= 1000 else DEFAULT_PER_SECOND


async def acquire(phone_number_id: str, per_second: int = DEFAULT_PER_SECOND) -> None:
    """Take one send from the number's bucket, waiting for it; UpstreamUnavailable after ``MAX_WAIT_SECONDS``."""
    key = f"{PREFIX}:{phone_number_id}"
    bucket, redis = _bucket(per_second), await get_redis()
    waited = 0.0
    while True:
        try:
            async with deadline():
                response = await bucket.limit_async(redis, key)
        except unavailable() as exc:
            logger.warning("whatsapp throughput limit unavailable; sending", extra={"error": type(exc).__name__})
            return
        if response.allowed:
            return
        pause = min(max(response.reset - time.time(), 0.01), 1.0)
        if waited + pause > MAX_WAIT_SECONDS:
            raise UpstreamUnavailable("the number's send rate is exhausted; retry later")
        metrics.add_metric(name="WhatsAppThrottled", unit="Count", value=1)
        await _sleep(pause)
        waited += pause
