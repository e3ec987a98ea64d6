"""Cron (hourly): purge expired outbox rows, delivery logs, idempotency keys and status events."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.observability import logger, publish_metrics, traced_handler
from shared.retention import purge
from shared.runtime import run
from shared.settings import require_used_secrets

require_used_secrets()


@publish_metrics
@logger.inject_lambda_context(clear_state=True)
@traced_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    """Lambda entry point for the EventBridge schedule."""
    purged = run(purge())
    logger.info("retention purged", extra=purged)
    return purged
