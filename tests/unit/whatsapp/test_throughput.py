"""The per-number token bucket: a sender waits for a token instead of overrunning Meta's 80 msg/s."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from shared.errors import UpstreamUnavailable
from shared.whatsapp import throughput
from tests.support.aio import run


@dataclass
class Answer:
    allowed: bool
    reset: float


class FakeBucket:
    """Answers from a script; records which keys asked."""

    def __init__(self, *answers: Answer | Exception) -> None:
        self.answers = list(answers)
        self.keys: list[str] = []

    async def limit_async(self, redis: Any, key: str) -> Answer:
        self.keys.append(key)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def waits(settings_env: pytest.MonkeyPatch) -> list[float]:
    """Pauses recorded, not slept; no Redis client (the bucket is faked); settings for the call's deadline."""
    monkeypatch = settings_env
    recorded: list[float] = []

    async def _record(seconds: float) -> None:
        recorded.append(seconds)

    async def _no_redis() -> None:
        return None

    monkeypatch.setattr(throughput, "_sleep", _record)
    monkeypatch.setattr(throughput, "get_redis", _no_redis)
    return recorded


def _use(monkeypatch: pytest.MonkeyPatch, bucket: FakeBucket) -> None:
    monkeypatch.setattr(throughput, "_bucket", lambda per_second: bucket)


def test_an_empty_bucket_waits_for_the_refill(monkeypatch: pytest.MonkeyPatch, waits: list[float]) -> None:
    # given a number whose bucket is empty for the next 0.3 s
    bucket = FakeBucket(Answer(False, time.time() + 0.3), Answer(True, 0))
    _use(monkeypatch, bucket)
    # when a send asks for a token / then it waits about that long, then goes, keyed by the number
    run(throughput.acquire("106540352242922"))
    assert len(waits) == 1
    assert 0.2 < waits[0] <= 0.3
    assert bucket.keys == [f"{throughput.PREFIX}:106540352242922"] * 2


def test_a_bucket_that_stays_empty_gives_up(monkeypatch: pytest.MonkeyPatch, waits: list[float]) -> None:
    _use(monkeypatch, FakeBucket(*[Answer(False, time.time() + 1) for _ in range(10)]))
    with pytest.raises(UpstreamUnavailable):
        run(throughput.acquire("106540352242922"))
    assert sum(waits) <= throughput.MAX_WAIT_SECONDS


def test_redis_down_lets_the_send_through(monkeypatch: pytest.MonkeyPatch, waits: list[float]) -> None:
    _use(monkeypatch, FakeBucket(httpx.ConnectError("down")))
    run(throughput.acquire("106540352242922"))
    assert waits == []


@pytest.mark.parametrize(
    ("config", "expected"),
    [(None, 80), ({}, 80), ({"throughput_per_second": 250}, 250), ({"throughput_per_second": "9"}, 80)],
)
def test_the_rate_comes_from_the_integration_config(config: Any, expected: int) -> None:
    assert throughput.rate(config) == expected
