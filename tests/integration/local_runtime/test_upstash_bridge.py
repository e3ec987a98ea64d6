"""The Upstash-REST bridge: the real upstash-redis and upstash-ratelimit clients against a real Redis."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from upstash_ratelimit.asyncio import Ratelimit, SlidingWindow
from upstash_redis.asyncio import Redis

from local_runtime.upstash_bridge import RedisExecutor, encode
from tests.support.aio import run

pytestmark = pytest.mark.integration


@pytest.fixture
def client(upstash: tuple[str, str]) -> Iterator[Redis]:
    redis = Redis(url=upstash[0], token=upstash[1], allow_telemetry=False, rest_retries=0)
    yield redis
    run(redis.close())


def test_commands_pipelines_and_transactions_round_trip_unicode(client: Redis) -> None:
    async def scenario() -> tuple[object, ...]:
        await client.set("bridge:text", "olá, ação ✓")
        pipe = client.pipeline()
        pipe.incr("bridge:n")
        pipe.get("bridge:text")
        tx = client.multi()
        tx.incr("bridge:n")
        tx.set("bridge:nx", "1", nx=True)
        return await client.get("bridge:text"), await pipe.exec(), await tx.exec()

    # when a value is written, then read plainly, in a pipeline and in a transaction
    value, piped, transacted = run(scenario())
    # then every path returns what Redis holds
    assert value == "olá, ação ✓"
    assert piped[1] == "olá, ação ✓"
    assert transacted[0] == piped[0] + 1


def test_a_wrong_token_is_refused(upstash: tuple[str, str]) -> None:
    # when a command is sent with another token / then 401 and nothing runs
    response = httpx.post(upstash[0], json=["SET", "bridge:x", "1"], headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401


def test_a_redis_error_is_an_error_result(upstash: tuple[str, str]) -> None:
    # when Redis rejects a command / then the bridge answers {"error": ...} as Upstash does
    response = httpx.post(upstash[0], json=["NOSUCHCOMMAND"], headers={"Authorization": f"Bearer {upstash[1]}"})
    assert response.status_code == 400
    assert "unknown command" in response.json()["error"].lower()


def test_upstash_ratelimit_scripts_run_and_limit(client: Redis) -> None:
    # given a sliding window of 2 per minute (its Lua script carries Upstash's shebang flags)
    limiter = Ratelimit(redis=client, limiter=SlidingWindow(max_requests=2, window=60), prefix="bridge-test")

    # when three requests come from one identifier
    async def three() -> list[bool]:
        return [(await limiter.limit("ip-1")).allowed for _ in range(3)]

    # then the third is refused
    assert run(three()) == [True, True, False]


def test_base64_encoding_keeps_ok_plain() -> None:
    # given the Upstash-Encoding: base64 mode / then strings are base64 but "OK" stays plain
    assert encode(b"OK", True) == "OK"
    assert encode([b"a", 1, None], True) == ["YQ==", 1, None]
    assert encode(b"a", False) == "a"


@pytest.mark.parametrize(
    ("strip", "expected"),
    [(False, "#!lua flags=no-writes\nreturn 1"), (True, "return 1")],
)
def test_script_shebang_keeps_only_what_the_server_knows(strip: bool, expected: str) -> None:
    # given a script with Upstash's own flag and a standard one
    executor = RedisExecutor(pool=None, strip_lua_shebang=strip)  # type: ignore[arg-type]
    prepared = executor._prepare(["EVAL", "#!lua flags=allow-key-locking,no-writes\nreturn 1", 0])
    # then Redis 7 keeps the standard flag and Redis 6 gets no shebang at all
    assert prepared[1] == expected
