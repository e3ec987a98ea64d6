"""SQS FIFO worker: index knowledge sources (one message group per source), never in an HTTP function.

Extraction (pypdf, python-docx, the stdlib HTML parser), chunking, embeddings through LiteLLM and
the one-transaction write of a version live in ``shared.knowledge.ingestion``.
"""

from typing import Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.knowledge.worker import process_record
from shared.observability import logger, publish_metrics, traced_handler
from shared.settings import require_used_secrets

require_used_secrets()
processor = SqsFifoPartialProcessor(skip_group_on_error=True)
processor.raise_on_entire_batch_failure = False


def record_handler(record: SQSRecord) -> str:
    """One ingestion attempt; raising reports the record as failed (retried later)."""
    return process_record(record)


@publish_metrics
@logger.inject_lambda_context(clear_state=True)
@traced_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    """Lambda entry point for the knowledge queue."""
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
