"""Put a model turn on the SQS FIFO turn queue: one message group per conversation.

An enqueue that fails is reported, never raised: the lead message is already stored
(status ``received``) and ``shared.conversations.requeue`` sends it again later.
"""

from __future__ import annotations

import asyncio
import json
import uuid

from shared.clients.sqs import get_sqs
from shared.observability import logger, metrics
from shared.settings import get_settings


def turn_body(message_id: uuid.UUID) -> str:
    """The queue message the turn worker reads."""
    return json.dumps({"type": "turn", "message_id": str(message_id)})


async def enqueue_turn(conversation_id: uuid.UUID, message_id: uuid.UUID, dedup_id: str | None = None) -> bool:
    """Send the turn for ``message_id``; True once SQS accepted it.

    The group keeps a conversation's turns in order, one at a time. Deduplicating on the
    message id makes a resend within SQS's five-minute window a no-op; a turn that must
    run again for the same message (the bot got the conversation back) passes its own ``dedup_id``.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    queue_url = get_settings().turn_queue_url
    if not queue_url:
        logger.error("TURN_QUEUE_URL is not set; the message waits for the requeue cron")
        metrics.add_metric(name="TurnEnqueueFailed", unit="Count", value=1)
        return False
    try:
        # boto3 blocks (and builds its client on first use); a worker thread keeps the loop free.
        await asyncio.to_thread(_send, queue_url, conversation_id, message_id, dedup_id or str(message_id))
    except (BotoCoreError, ClientError) as exc:
        logger.warning(
            "turn enqueue failed; the message waits for the requeue cron",
            extra={"message_id": str(message_id), "error": type(exc).__name__},
        )
        metrics.add_metric(name="TurnEnqueueFailed", unit="Count", value=1)
        return False
    return True


def _send(queue_url: str, conversation_id: uuid.UUID, message_id: uuid.UUID, dedup_id: str) -> None:
    get_sqs().send_message(
        QueueUrl=queue_url,
        MessageBody=turn_body(message_id),
        MessageGroupId=str(conversation_id),
        MessageDeduplicationId=dedup_id,
    )
