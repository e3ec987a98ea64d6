"""The events queue (SQS standard): send delivery jobs, and postpone a failed one.

boto3 blocks, so sends run in a worker thread; ``retry_later`` is called from the worker's
synchronous record handler, outside the event loop.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

from botocore.exceptions import BotoCoreError, ClientError

from shared.clients.sqs import get_sqs
from shared.errors import ConfigurationError
from shared.events.delivery import DeliveryJob
from shared.observability import logger
from shared.settings import get_settings

SQS_BATCH = 10


def queue_url() -> str:
    """EVENTS_QUEUE_URL, required by the dispatcher and the worker."""
    url = get_settings().events_queue_url
    if not url:
        raise ConfigurationError("EVENTS_QUEUE_URL is required to dispatch and deliver events")
    return url


async def send_jobs(jobs: Sequence[DeliveryJob]) -> set[uuid.UUID]:
    """Queue every job; the ids of the events with at least one job SQS did not accept."""
    return await asyncio.to_thread(_send_all, list(jobs))


def _send_all(jobs: list[DeliveryJob]) -> set[uuid.UUID]:
    url = queue_url()
    failed: set[uuid.UUID] = set()
    for start in range(0, len(jobs), SQS_BATCH):
        chunk = jobs[start : start + SQS_BATCH]
        entries = [{"Id": str(i), "MessageBody": job.to_message()} for i, job in enumerate(chunk)]
        try:
            result = get_sqs().send_message_batch(QueueUrl=url, Entries=entries)  # type: ignore[arg-type]
        except (BotoCoreError, ClientError) as exc:
            logger.warning("event jobs not queued", extra={"count": len(chunk), "error": type(exc).__name__})
            failed.update(job.event_id for job in chunk)
            continue
        failed.update(chunk[int(entry["Id"])].event_id for entry in result.get("Failed", []))
    return failed


def retry_later(receipt_handle: str, seconds: int) -> None:
    """Hide a received message for ``seconds``: its next receive is the next attempt."""
    try:
        get_sqs().change_message_visibility(
            QueueUrl=queue_url(), ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
        )
    except (BotoCoreError, ClientError) as exc:
        # The queue's own visibility timeout then paces the retry instead.
        logger.warning("retry delay not set", extra={"error": type(exc).__name__})
