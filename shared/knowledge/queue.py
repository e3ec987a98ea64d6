"""Send jobs to the knowledge queue (API side).

An enqueue that fails is reported, never raised: a source to index stays ``pending`` and re-indexing
it (``POST /knowledge/sources/{id}/reindex``) enqueues it again; a deleted file source's object stays
in Storage (logged with its source id, and counted as ``JobEnqueueFailed``).
"""

from __future__ import annotations

import asyncio

from shared.clients import sqs
from shared.knowledge.jobs import IngestJob, RemoveFileJob
from shared.observability import logger, metrics
from shared.settings import get_settings


async def enqueue(job: IngestJob | RemoveFileJob) -> bool:
    """Send ``job``; True once SQS accepted it (a failure is logged, not raised)."""
    queue_url = get_settings().knowledge_queue_url
    if not queue_url:
        logger.error(
            "KNOWLEDGE_QUEUE_URL is not set; the job is not sent",
            extra={"job": job.type, "document_id": str(job.document_id)},
        )
        metrics.add_metric(name="JobEnqueueFailed", unit="Count", value=1)
        return False
    try:
        await asyncio.to_thread(
            sqs.send_message, queue_url, job.model_dump_json(), str(job.document_id), job.deduplication_id
        )
    except sqs.SqsError as exc:
        logger.warning(
            "enqueue failed",
            extra={"job": job.type, "document_id": str(job.document_id), "error": type(exc).__name__},
        )
        metrics.add_metric(name="JobEnqueueFailed", unit="Count", value=1)
        return False
    return True
