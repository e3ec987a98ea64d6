"""``send`` jobs on the turn queue: deliver one stored outbound message (a human's reply, a retry).

They share the turn queue and its message group (the conversation), so a conversation's
replies go out in the order they were written, after the turns before them.
"""

from __future__ import annotations

import asyncio
import json
import uuid

from shared.clients.sqs import get_sqs
from shared.observability import logger, metrics
from shared.settings import get_settings

SEND = "send"


def send_body(message_id: uuid.UUID) -> str:
    """The queue message the turn worker reads as a send job."""
    return json.dumps({"type": SEND, "message_id": str(message_id)})


async def enqueue_send(conversation_id: uuid.UUID, message_id: uuid.UUID, dedup_id: str | None = None) -> bool:
    """Queue the send of ``message_id``; False (logged) when SQS refused it, and it stays queued."""
    from botocore.exceptions import BotoCoreError, ClientError

    queue_url = get_settings().turn_queue_url
    if not queue_url:
        logger.error("TURN_QUEUE_URL is not set; the WhatsApp message is not sent")
        return False
    try:
        await asyncio.to_thread(
            get_sqs().send_message,
            QueueUrl=queue_url,
            MessageBody=send_body(message_id),
            MessageGroupId=str(conversation_id),
            MessageDeduplicationId=dedup_id or f"{SEND}:{message_id}",
        )
    except (BotoCoreError, ClientError) as exc:
        logger.warning("send enqueue failed", extra={"message_id": str(message_id), "error": type(exc).__name__})
        metrics.add_metric(name="WhatsAppSendEnqueueFailed", unit="Count", value=1)
        return False
    return True
