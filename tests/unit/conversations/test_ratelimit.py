"""The rate limiter's own behaviour: Retry-After, the container cache, and failing open."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from upstash_ratelimit import Response

from shared import ratelimit
from shared.errors import RateLimited
from shared.settings import get_settings
from tests.support.aio import run


class FakeWindow:
    """Answers like upstash-ratelimit's SlidingWindow, counting calls."""

    def __init__(self, *responses: Response | Exception) -> None:
        self.responses = list(responses)
        self.calls = 0

    async def limit_async(self, _redis: Any, _key: str, _rate: int = 1) -> Response:
        self.calls += 1
        answer = self.responses.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def window(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    # a minimal valid environment: each Redis call is bounded by UPSTASH_TIMEOUT_MS (shared.clients.redis.deadline)
    monkeypatch.setenv("APP_ENV", "test")
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:Zq8w3Kp1@127.0.0.1:1/app")
    get_settings.cache_clear()

    def install(*responses: Response | Exception) -> FakeWindow:
        fake = FakeWindow(*responses)
        monkeypatch.setattr(ratelimit, "_window", lambda _per_minute: fake)
        return fake

    async def no_redis() -> None:
        return None

    monkeypatch.setattr(ratelimit, "get_redis", no_redis)
    monkeypatch.setattr(ratelimit, "_blocked", {})
    yield install
    get_settings.cache_clear()


def test_an_allowed_request_passes(window: Any) -> None:
    fake = window(Response(allowed=True, limit=5, remaining=4, reset=time.time() + 30))
    run(ratelimit.enforce("ip:a", 5))
    assert fake.calls == 1


def test_a_refusal_carries_retry_after_and_is_cached(window: Any) -> None:
    # given Redis refusing once, with the window resetting in ~20 s
    fake = window(Response(allowed=False, limit=5, remaining=0, reset=time.time() + 19.2))
    # when two requests arrive / then both are refused with Retry-After, and Redis was asked once
    for _ in range(2):
        with pytest.raises(RateLimited) as caught:
            run(ratelimit.enforce("ip:b", 5))
        assert 19 <= caught.value.retry_after <= 20
    assert fake.calls == 1


def test_redis_down_lets_requests_through(window: Any) -> None:
    # given Redis unreachable / when a request is checked / then it is allowed (Redis is for speed only)
    fake = window(httpx.ConnectError("down"))
    run(ratelimit.enforce("ip:c", 5))
    assert fake.calls == 1
