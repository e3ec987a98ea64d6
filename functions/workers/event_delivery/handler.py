"""SQS worker: deliver each queued event to its subscriber (a webhook endpoint, later a CRM).

Powertools' BatchProcessor reports partial failures: a failed record is hidden for its backoff
(ChangeMessageVisibility) and reported in ``batchItemFailures``, so only it is retried, up to
``maxReceiveCount`` receives, then SQS moves it to the dead-letter queue.
"""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.events.registry import deliverers
from shared.events.worker import process_record
from shared.observability import logger, publish_metrics, traced_handler
from shared.settings import require_used_secrets

require_used_secrets()
DELIVERERS = deliverers()
# A batch whose every record failed is still a partial response, not an invocation error: each record
# already set its own backoff, which a failed invocation would not change but would count as an error.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord) -> str:
    """One delivery attempt; raising reports the record as failed."""
    return process_record(record, DELIVERERS)


@publish_metrics
@logger.inject_lambda_context(clear_state=True)
@traced_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    """Lambda entry point for the events queue."""
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
