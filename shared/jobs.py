"""The turn queue (SQS FIFO): its typed job messages and the one "enqueue, then mark queued" path.

Message groups: a turn runs in the conversation's group (``<conversation id>``), so a
conversation's turns run in order, one at a time. A send runs in the group
``send:<conversation id>``: sends keep their order per conversation, and a send waiting out a
Graph API outage never holds up the conversation's next turn.

An enqueue that fails is reported, never raised: the message is already stored, and the
sweep cron (``shared.turns.sweep``) enqueues it again later.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from shared.clients import sqs
from shared.db import service_call
from shared.errors import AppError
from shared.observability import logger, metrics
from shared.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef


class TurnJob(BaseModel):
    """Run the model turn that answers the lead message ``message_id`` (and any before it)."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    type: Literal["turn"] = "turn"
    message_id: uuid.UUID
    instruction: str | None = None  # a follow-up's nudge: what the model is asked to write (shared.followups)


class SendJob(BaseModel):
    """Deliver the stored outbound message ``message_id`` (an AI or a human reply) over WhatsApp."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    type: Literal["send"] = "send"
    message_id: uuid.UUID


class FollowUpJob(BaseModel):
    """Run the claimed follow-up step ``follow_up_id`` (``shared.followups``), in its conversation's group."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    type: Literal["follow_up"] = "follow_up"
    follow_up_id: uuid.UUID

    @property
    def message_id(self) -> uuid.UUID:
        """The id the job is known by (a follow-up's, not a message's)."""
        return self.follow_up_id


AnyJob = TurnJob | SendJob | FollowUpJob
Job = Annotated[AnyJob, Field(discriminator="type")]
_JOB: TypeAdapter[AnyJob] = TypeAdapter(Job)

_ENQUEUE_LANES = 4  # batch sends in flight at once (one boto3 client, its default pool of 10 connections)
# Only from received: the worker may already have answered the message (and moved it on).
_MARK_QUEUED = """
    update public.messages m set status = 'queued'
    where m.id = any(%s::uuid[]) and m.status = 'received'
"""


@dataclass(frozen=True)
class Queued:
    """One job for one conversation; ``dedup_id`` only when the same job must run again within 5 minutes."""

    conversation_id: uuid.UUID
    job: AnyJob
    dedup_id: str | None = None

    @property
    def group_id(self) -> str:
        return group_id(self.conversation_id, self.job)

    @property
    def deduplication_id(self) -> str:
        if self.dedup_id:
            return self.dedup_id
        if isinstance(self.job, FollowUpJob):
            return f"followup:{self.job.follow_up_id}"
        return str(self.job.message_id) if isinstance(self.job, TurnJob) else f"send:{self.job.message_id}"


def parse(body: str) -> AnyJob:
    """The job a queue message carries; ``pydantic.ValidationError`` for anything else."""
    return _JOB.validate_json(body)


def group_id(conversation_id: uuid.UUID, job: AnyJob) -> str:
    """The FIFO message group: turns and follow-ups per conversation, sends per conversation in a group of their own."""
    return f"send:{conversation_id}" if isinstance(job, SendJob) else str(conversation_id)


async def enqueue(item: Queued) -> bool:
    """Send one job to the turn queue; True once SQS accepted it (a failure is logged, not raised)."""
    queue_url = get_settings().turn_queue_url
    if not queue_url:
        logger.error("TURN_QUEUE_URL is not set; the job waits for the sweep", extra={"job": item.job.type})
        metrics.add_metric(name="JobEnqueueFailed", unit="Count", value=1)
        return False
    try:
        # The send blocks; a worker thread keeps the loop free.
        await asyncio.to_thread(
            sqs.send_message,
            queue_url,
            item.job.model_dump_json(exclude_none=True),
            item.group_id,
            item.deduplication_id,
        )
    except sqs.SqsError as exc:
        logger.warning(
            "enqueue failed; the job waits for the sweep",
            extra={"job": item.job.type, "message_id": str(item.job.message_id), "error": type(exc).__name__},
        )
        metrics.add_metric(name="JobEnqueueFailed", unit="Count", value=1)
        return False
    return True


async def enqueue_many(items: Sequence[Queued]) -> list[Queued]:
    """Send jobs to the turn queue ten to a call (``SendMessageBatch``); the ones SQS accepted.

    For jobs that need no "queued" mark (follow-ups); a failure is logged, never raised.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    queue_url = get_settings().turn_queue_url
    if not queue_url or not items:
        if items:
            logger.error("TURN_QUEUE_URL is not set; the jobs wait", extra={"jobs": len(items)})
        return []

    def send(chunk: Sequence[Queued]) -> list[Queued]:
        entries: list[SendMessageBatchRequestEntryTypeDef] = [
            {
                "Id": str(index),
                "MessageBody": item.job.model_dump_json(exclude_none=True),
                "MessageGroupId": item.group_id,
                "MessageDeduplicationId": item.deduplication_id,
            }
            for index, item in enumerate(chunk)
        ]
        try:
            answer = sqs.get_sqs().send_message_batch(QueueUrl=queue_url, Entries=entries)
        except (BotoCoreError, ClientError) as exc:
            logger.warning("batch enqueue failed", extra={"jobs": len(chunk), "error": type(exc).__name__})
            return []
        return [chunk[int(entry["Id"])] for entry in answer.get("Successful", [])]

    chunks = [items[i : i + 10] for i in range(0, len(items), 10)]
    lanes = asyncio.Semaphore(_ENQUEUE_LANES)

    async def lane(chunk: Sequence[Queued]) -> list[Queued]:
        async with lanes:
            return await asyncio.to_thread(send, chunk)

    sent = await asyncio.gather(*(lane(chunk) for chunk in chunks))
    accepted = [item for batch in sent for item in batch]
    if len(accepted) < len(items):
        metrics.add_metric(name="JobEnqueueFailed", unit="Count", value=len(items) - len(accepted))
    return accepted


async def submit(items: Sequence[Queued]) -> list[uuid.UUID]:
    """Enqueue every job, then mark the enqueued turns' messages queued in one round trip; the ids of the
    messages whose job SQS accepted.

    Sends need no mark: an outbound message is stored ``queued``.
    """
    if not items:
        return []
    sent = await asyncio.gather(*(enqueue(item) for item in items))
    accepted = [item for item, ok in zip(items, sent, strict=True) if ok]
    turns = [item.job.message_id for item in accepted if isinstance(item.job, TurnJob)]
    if turns:
        try:
            await service_call(_MARK_QUEUED, (turns,))
        except AppError as exc:
            # The turns are on the queue already; the rows catch up when the worker handles them.
            logger.warning("jobs enqueued but not marked queued", extra={"error": exc.code})
    return [item.job.message_id for item in accepted]


def retry_after(receipt_handle: str, seconds: int) -> None:
    """Keep a received job invisible for ``seconds`` (its backoff) instead of the queue's whole timeout."""
    from botocore.exceptions import BotoCoreError, ClientError

    queue_url = get_settings().turn_queue_url
    if not queue_url:
        return
    try:
        sqs.get_sqs().change_message_visibility(
            QueueUrl=queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
        )
    except (BotoCoreError, ClientError) as exc:
        # Then the queue's own visibility timeout spaces the retry: later, never lost.
        logger.warning("could not set the job's backoff", extra={"error": type(exc).__name__})
