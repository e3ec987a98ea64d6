"""SQS FIFO worker: one model turn per queued lead message, in order per conversation (and WhatsApp sends).

Powertools batch processing reports partial failures; with ``skip_group_on_error`` a
failed turn holds back only the rest of its own conversation (its message group), which
SQS redelivers in order, then moves to the DLQ after ``maxReceiveCount``.
"""

import json
import uuid
from typing import Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.llm import gateway  # noqa: F401  (import litellm during init, not during the first turn)
from shared.observability import logger, publish_metrics, traced_handler
from shared.runtime import run
from shared.settings import require_used_secrets
from shared.snapstart import register_hooks
from shared.turns.service import run_turn
from shared.whatsapp.jobs import SEND
from shared.whatsapp.outbound import send_stored_message

require_used_secrets()
register_hooks()  # SnapStart: drop connections before the snapshot, rebuild after each restore
processor = SqsFifoPartialProcessor(skip_group_on_error=True)


def record_handler(record: SQSRecord) -> str:
    """Run the turn a queue message asks for; raising makes SQS redeliver it."""
    body: dict[str, Any] = json.loads(record.body)
    if body.get("type") == SEND:
        # A WhatsApp message to deliver (a human's reply, or a retry); raises while Meta is unavailable.
        sent = run(send_stored_message(uuid.UUID(body["message_id"])))
        logger.info("send finished", extra={"status": sent, "message_id": body["message_id"]})
        return sent
    if body.get("type") != "turn":
        logger.warning("unknown queue message type", extra={"type": body.get("type")})
        return "ignored"
    result = run(run_turn(uuid.UUID(body["message_id"])))
    logger.info("turn finished", extra={"status": result.status, "message_id": body["message_id"]})
    return result.status


@publish_metrics
@logger.inject_lambda_context(clear_state=True)
@traced_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    """Lambda entry point for the turn queue."""
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
