"""Cron (every minute): roll budgets over at the period boundary, raise budget.threshold_reached once per period."""

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.budget_periods import run as run_periods
from shared.observability import logger, publish_metrics, traced_handler
from shared.runtime import run
from shared.settings import require_used_secrets

require_used_secrets()


@publish_metrics
@logger.inject_lambda_context(clear_state=True)
@traced_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    """Lambda entry point for the EventBridge schedule."""
    summary = asdict(run(run_periods()))
    logger.info("budget periods", extra=summary)
    return summary
