"""Cron (every minute): release dead workers' budget reservations, requeue stalled turns, purge old keys."""

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.observability import logger, publish_metrics, traced_handler
from shared.runtime import run
from shared.settings import require_used_secrets
from shared.turns.sweep import sweep

require_used_secrets()


@publish_metrics
@logger.inject_lambda_context(clear_state=True)
@traced_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    """Lambda entry point for the EventBridge schedule."""
    summary = asdict(run(sweep()))
    logger.info("turn pipeline swept", extra=summary)
    return summary
