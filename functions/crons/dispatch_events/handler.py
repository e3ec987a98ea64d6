"""Cron (every minute): move new outbox events to the events queue, one message per delivery.

Runs batch after batch while the outbox has more and the invocation has time left; rows are
claimed with FOR UPDATE SKIP LOCKED, so an overlapping run never queues an event twice.
"""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.events.dispatch import dispatch_pending
from shared.events.registry import deliverers
from shared.observability import logger, publish_metrics, traced_handler
from shared.runtime import run
from shared.settings import require_used_secrets

require_used_secrets()
DELIVERERS = deliverers()
# Stop starting batches this close to the timeout; one batch takes well under a second.
RESERVE_MS = 10_000


@publish_metrics
@logger.inject_lambda_context(clear_state=True)
@traced_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    """Lambda entry point for the EventBridge schedule."""
    result = run(dispatch_pending(DELIVERERS, lambda: context.get_remaining_time_in_millis() > RESERVE_MS))
    summary = {"events": result.events, "messages": result.messages, "failed_events": result.failed_events}
    if result.failed_events:
        logger.error("some events could not be queued; the next run retries them", extra=summary)
    else:
        logger.info("events dispatched", extra=summary)
    return summary
