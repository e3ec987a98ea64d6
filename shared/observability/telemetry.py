"""Module-level Powertools Logger, Metrics and Tracer, created once per container."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.types import PowertoolsLogRecord

from shared.observability.pii import mask

_SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "conversion-agents")
_RESERVED = frozenset({"level", "location", "timestamp", "service", "xray_trace_id", "exception_name"})


class MaskingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter with PII masked in the message and every extra key."""

    def serialize(self, log: dict[str, Any] | PowertoolsLogRecord) -> str:
        items: dict[str, Any] = dict(log)
        masked = {k: (v if k in _RESERVED else mask(v, None if k == "message" else k)) for k, v in items.items()}
        return super().serialize(masked)


logger = Logger(service=_SERVICE, logger_formatter=MaskingFormatter(), use_rfc3339=True)
metrics = Metrics(service=_SERVICE, namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "ConversionAgents"))


if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer


TRACED_MODULES = ("botocore", "httpx")


@lru_cache(maxsize=1)
def get_tracer() -> Tracer | None:
    """The X-Ray tracer, or None when tracing is off.

    Importing the X-Ray SDK (and botocore with it) costs ~190 ms, so it happens only in
    Lambda with tracing on (``POWERTOOLS_TRACE_DISABLED=true`` skips it), and during init:
    ``create_app`` and ``traced_handler`` call this at import.
    """
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() in ("1", "true")
    if disabled or not os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return None
    from aws_lambda_powertools import Tracer

    # Only what this code calls: AWS (SQS, SSM) and HTTP (providers, Graph API, CRMs, Upstash).
    # patch_all would import a dozen unused libraries during init.
    return Tracer(service=_SERVICE, patch_modules=TRACED_MODULES)


H = TypeVar("H", bound=Callable[..., Any])


def publish_metrics(handler: H) -> H:
    """Flush the invocation's EMF metrics when there are any (Powertools' ``log_metrics`` warns when there are none)."""

    @functools.wraps(handler)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        finally:
            if metrics.metric_set:
                metrics.flush_metrics()

    return wrapper  # type: ignore[return-value]
