"""Cron (every minute): recompute the analytics rollup rows of conversations touched since the last run."""

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.analytics.refresh import refresh
from shared.observability import logger, publish_metrics
from shared.runtime import run
from shared.settings import get_settings

get_settings()


@publish_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point for the EventBridge schedule."""
    summary = asdict(run(refresh()))
    logger.info("analytics rollup refreshed", extra=summary)
    return summary
