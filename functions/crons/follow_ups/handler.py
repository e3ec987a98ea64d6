"""Cron (every minute): schedule new silences' first follow-up, claim due ones onto the turn queue."""

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.followups.service import run_cron
from shared.observability import logger, publish_metrics, traced_handler
from shared.runtime import run
from shared.settings import require_used_secrets

require_used_secrets()


@publish_metrics
@logger.inject_lambda_context(clear_state=True)
@traced_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    """Lambda entry point for the EventBridge schedule."""
    summary = asdict(run(run_cron()))
    logger.info("follow-ups claimed", extra=summary)
    return summary
