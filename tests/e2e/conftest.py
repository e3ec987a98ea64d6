"""E2E tier: the local gateway in front of the real handlers and services."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from local_runtime.aws import LocalQueue
from local_runtime.gateway.app import create_gateway
from local_runtime.queues import Invoke, drain


@pytest.fixture(scope="module")
def gateway(app_env: dict[str, str]) -> Iterator[TestClient]:
    """The gateway app over HTTP semantics; leaving the block retires its containers."""
    with TestClient(create_gateway(), base_url="http://127.0.0.1:3000") as client:
        yield client


def drainer(sqs: Any, queue: LocalQueue, invoke: Invoke) -> Callable[[], int]:
    """Drain ``queue`` into ``invoke`` as the event source mapping does; the number of this test's messages run.

    The queue is the session's: a job another tier queued and ran by hand (sent before this test began,
    per SQS's ``SentTimestamp``) is deleted unrun and not counted, so a count is this test's own.
    """
    since_ms = int(time.time() * 1000)
    ran = [0]

    def own_only(event: dict[str, Any]) -> Any:
        own = [r for r in event["Records"] if int(r["attributes"]["SentTimestamp"]) >= since_ms]
        ran[0] += len(own)
        return invoke({**event, "Records": own}) if own else {"batchItemFailures": []}

    def run() -> int:
        ran[0] = 0
        drain(sqs, queue, own_only)
        return ran[0]

    return run
