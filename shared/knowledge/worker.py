"""One SQS record of the knowledge queue -> one ingestion attempt, or the removal of a deleted file
source's object from Storage (retried by SQS until Storage answers; an object already gone is done).

Bad input never raises: the source ends ``failed`` with a problem. Only an unavailable embedding
provider or database raises, so SQS redelivers the job later (then the DLQ after ``maxReceiveCount``).
An unexpected error marks the source failed too: a worker never crashes on a document.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import ValidationError

from shared.db import service_session
from shared.errors import UpstreamUnavailable
from shared.knowledge import files, jobs
from shared.knowledge.ingestion import ingest
from shared.observability import logger
from shared.runtime import run

_MARK_FAILED = """
    update public.knowledge_documents d set status = 'failed', problem = 'indexing failed unexpectedly; re-index it'
    where d.id = %s and d.status = 'processing'
"""


def process_record(record: SQSRecord) -> str:
    """Index the source ``record`` names; raising makes SQS redeliver it."""
    try:
        job = jobs.parse(record.body)
    except ValidationError:
        logger.warning("unknown knowledge queue message; dropped", extra={"message_id": record.message_id})
        return "ignored"
    if isinstance(job, jobs.RemoveFileJob):
        return _remove_file(job)
    try:
        outcome = run(ingest(job.document_id))
    except UpstreamUnavailable as exc:
        logger.warning("ingestion postponed", extra={"document_id": str(job.document_id), "error": exc.code})
        raise
    except Exception:
        logger.exception("ingestion crashed; the source is marked failed", extra={"document_id": str(job.document_id)})
        run(_mark_failed(job))
        return "failed"
    logger.info("ingestion finished", extra={"document_id": str(job.document_id), "status": outcome})
    return outcome


async def _mark_failed(job: jobs.IngestJob) -> None:
    async with service_session() as db:
        await db.execute(_MARK_FAILED, (job.document_id,))


def _remove_file(job: jobs.RemoveFileJob) -> str:
    """Remove a deleted source's object; raising (Storage unavailable or refusing) makes SQS redeliver it."""
    try:
        removed = run(files.remove(job.path))
    except UpstreamUnavailable as exc:
        logger.warning("file removal postponed", extra={"document_id": str(job.document_id), "error": exc.code})
        raise
    logger.info("file of a deleted source removed", extra={"document_id": str(job.document_id), "objects": removed})
    return "removed"
