"""An Upstash that accepts connections and never answers: every caller goes on without it, within the deadline.

upstash-redis builds its httpx client without a timeout; ``shared.clients.redis.deadline`` bounds each call
by ``UPSTASH_TIMEOUT_MS``. These tests point the real client at a server that never writes a byte back.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import pytest

from shared.whatsapp import dedup, throughput
from tests.support.aio import run
from tests.support.api import LambdaApi

pytestmark = pytest.mark.integration

HANG_GUARD_SECONDS = 20  # far above the 200 ms deadline: a call that outlives it hung


class StalledServer:
    """Accepts TCP connections and never answers them: Upstash unreachable in the worst way."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    @property
    def connections(self) -> int:
        return len(self._held)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:  # closed
                return
            self._held.append(conn)

    def close(self) -> None:
        self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._listener.close()
        self._thread.join()
        for conn in self._held:
            conn.close()


def _hung(_signum: int, _frame: FrameType | None) -> None:
    raise AssertionError(f"an Upstash call was still waiting after {HANG_GUARD_SECONDS} s")


@pytest.fixture
def stalled(app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[StalledServer]:
    """The container's Upstash client pointed at a ``StalledServer``, with a 200 ms deadline."""
    from shared.clients.redis import close_redis
    from shared.settings import get_settings

    server = StalledServer()
    monkeypatch.setenv("UPSTASH_REDIS_REST_URL", server.url)
    monkeypatch.setenv("UPSTASH_TIMEOUT_MS", "200")
    get_settings.cache_clear()
    run(close_redis())  # the next call builds a client for the stalled URL
    previous = signal.signal(signal.SIGALRM, _hung)
    signal.alarm(HANG_GUARD_SECONDS)
    try:
        yield server
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        run(close_redis())  # drops the stalled connections; the next call uses the restored settings
        get_settings.cache_clear()
        server.close()


def test_a_rate_limited_write_goes_through(
    api: LambdaApi,
    stalled: StalledServer,
    make_org: Callable[[], dict[str, Any]],
    make_agent: Callable[..., str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given an organization with an agent, and Upstash never answering
    org = make_org()
    agent = make_agent(org["id"])
    caplog.set_level(logging.WARNING)
    # when a member starts a conversation (a write limited per organization)
    started = api.call(
        "POST", f"/organizations/{org['id']}/conversations", token=org["owner"].token, body={"agent_id": agent}
    )
    # then it is created: the limit was asked, gave no answer within the deadline, and was skipped (logged)
    assert started.status == 201, started.body
    assert stalled.connections >= 1
    skipped = [r for r in caplog.records if r.getMessage() == "rate limit unavailable; request allowed"]
    assert [getattr(r, "error", None) for r in skipped] == ["TimeoutError"]


def test_a_public_read_answers(api: LambdaApi, stalled: StalledServer) -> None:
    # given Upstash never answering / when the widget reads a conversation (its IP counted alongside)
    read = api.call("GET", f"/widget/conversations/{uuid.uuid4()}", source_ip="2001:db8:7::1")
    # then the read answers for itself (no visitor token: 401), not the limit
    assert read.status == 401, read.body
    assert stalled.connections >= 1


def test_whatsapp_dedup_and_send_rate_fail_open(stalled: StalledServer) -> None:
    # given Upstash never answering
    keys = [dedup.key("106540352242922", f"wamid.{uuid.uuid4().hex}") for _ in range(2)]
    # when a delivery claims its messages / then it wins them all (the database deduplicates)
    assert run(dedup.claim(keys)) == set(keys)
    # and confirming or releasing them returns instead of waiting
    run(dedup.confirm(keys))
    run(dedup.release(keys))
    # and a send takes its turn without the number's bucket
    run(throughput.acquire("106540352242922"))
    assert stalled.connections >= 1
