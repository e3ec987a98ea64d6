"""The container's SQS client, for the turn queue.

boto3 is imported on first use, so functions that never enqueue do not pay for it at
cold start. The client is thread-safe and not bound to an event loop, so one per
container is shared by every thread that ``asyncio.to_thread`` runs it in. boto3 reads
``AWS_ENDPOINT_URL`` itself, which is how tests and the local runtime reach moto.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING

from shared.observability.telemetry import trace_calls

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

# A send either answers within a couple of seconds or the message waits for the requeue cron;
# botocore's defaults (60 s reads, legacy retries) would outlast the function's timeout.
CONNECT_TIMEOUT_SECONDS = 2
READ_TIMEOUT_SECONDS = 3
MAX_ATTEMPTS = 3


@lru_cache(maxsize=1)
def get_sqs() -> SQSClient:
    """Build the client once per container, in the region Lambda runs in."""
    trace_calls("botocore")
    import boto3
    from botocore.config import Config

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    config = Config(
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        retries={"max_attempts": MAX_ATTEMPTS, "mode": "standard"},
    )
    return boto3.client("sqs", region_name=region, config=config)


def close_sqs() -> None:
    """Close this container's client (its connection pool), if one was built."""
    if get_sqs.cache_info().currsize:
        get_sqs().close()
    get_sqs.cache_clear()
