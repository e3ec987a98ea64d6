"""SQS FIFO worker: turns and follow-ups (one group per conversation) and WhatsApp sends (``send:<conversation>``).

Powertools batch processing reports partial failures; with ``skip_group_on_error`` a
failed job holds back only the rest of its own message group, which SQS redelivers in
order, then moves to the DLQ after ``maxReceiveCount``. A send that must wait (Meta is
down, or an earlier message goes first) sets its own visibility timeout: the backoff.
"""

from typing import Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from shared import jobs
from shared.errors import AppError
from shared.followups.service import run_follow_up
from shared.llm import gateway  # noqa: F401  (import litellm during init, not during the first turn)
from shared.observability import logger, publish_metrics, traced_handler
from shared.runtime import run
from shared.settings import require_used_secrets
from shared.snapstart import register_hooks
from shared.turns.service import run_turn
from shared.whatsapp.outbound import send_stored_message
from shared.whatsapp.retries import RetryLater

require_used_secrets()
register_hooks()  # SnapStart: drop connections before the snapshot, rebuild after each restore
processor = SqsFifoPartialProcessor(skip_group_on_error=True)
# A batch whose every record failed is reported like any partial failure, not raised as a traceback.
processor.raise_on_entire_batch_failure = False
_backed_off: set[str] = set()  # send jobs of this batch that set their own backoff


def record_handler(record: SQSRecord) -> str:
    """Run the job a queue message carries; raising makes SQS redeliver it."""
    try:
        job = jobs.parse(record.body)
    except ValidationError:
        logger.warning("unknown queue message; dropped", extra={"message_id": record.message_id})
        return "ignored"
    if isinstance(job, jobs.SendJob):
        try:
            sent = run(send_stored_message(job.message_id))
        except RetryLater as wait:
            jobs.retry_after(record.receipt_handle, wait.delay_seconds)
            _backed_off.add(record.message_id)
            raise
        logger.info("send finished", extra={"status": sent, "message_id": str(job.message_id)})
        return sent
    if isinstance(job, jobs.FollowUpJob):
        return run(run_follow_up(job.follow_up_id)).status
    try:
        result = run(run_turn(job.message_id, job.instruction))
    except AppError as exc:
        logger.warning(
            "turn failed; the queue redelivers it", extra={"error": exc.code, "message_id": str(job.message_id)}
        )
        raise
    except Exception:
        logger.exception("turn crashed; the queue redelivers it", extra={"message_id": str(job.message_id)})
        raise
    logger.info("turn finished", extra={"status": result.status, "message_id": str(job.message_id)})
    return result.status


@publish_metrics
@logger.inject_lambda_context(clear_state=True)
@traced_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    """Lambda entry point for the turn queue."""
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    _release_skipped_sends(event, response)
    return response


def _release_skipped_sends(event: dict[str, Any], response: PartialItemFailureResponse) -> None:
    """Sends skipped behind a failed one of their group need not wait the queue's whole visibility timeout:
    their group stays locked while the failed send waits out its backoff, so they cannot overtake it."""
    failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
    for record in event.get("Records", []):
        if record["messageId"] in failed and record["messageId"] not in _backed_off:
            group = str((record.get("attributes") or {}).get("MessageGroupId", ""))
            if group.startswith("send:"):
                jobs.retry_after(record["receiptHandle"], 0)
    _backed_off.clear()
