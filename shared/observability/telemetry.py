"""Module-level Powertools Logger, Metrics and Tracer, created once per container."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

# The submodules, not the package: ``aws_lambda_powertools/__init__`` imports the Tracer too.
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.logger import Logger
from aws_lambda_powertools.logging.types import PowertoolsLogRecord
from aws_lambda_powertools.metrics.metrics import Metrics

from shared import coldstart_gc
from shared.observability.pii import mask

_SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "conversion-agents")
_RESERVED = frozenset({"level", "location", "timestamp", "service", "xray_trace_id", "exception_name"})


class MaskingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter with PII masked in the message and every extra key.

    Appended keys (request id, function name and ARN, organization) are kept per thread, in
    Powertools' context variable: in Lambda that is the container, and in the local runtime,
    where every function's "container" is a thread of one process, a line never carries
    another function's context.
    """

    def serialize(self, log: dict[str, Any] | PowertoolsLogRecord) -> str:
        items: dict[str, Any] = dict(log)
        masked = {k: (v if k in _RESERVED else mask(v, None if k == "message" else k)) for k, v in items.items()}
        return super().serialize(masked)

    def append_keys(self, **additional_keys: Any) -> None:
        self.thread_safe_append_keys(**additional_keys)

    def remove_keys(self, keys: Iterable[str]) -> None:
        self.thread_safe_remove_keys(list(keys))

    def get_current_keys(self) -> dict[str, Any]:
        return {**self.log_format, **self.thread_safe_get_current_keys()}

    def clear_state(self) -> None:
        super().clear_state()
        self.thread_safe_clear_keys()


logger = Logger(service=_SERVICE, logger_formatter=MaskingFormatter(), use_rfc3339=True)
metrics = Metrics(service=_SERVICE, namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "ConversionAgents"))


if TYPE_CHECKING:
    from aws_lambda_powertools.tracing.tracer import Tracer


# What this code calls: AWS (SQS) and HTTP (providers, Graph API, CRMs, Upstash). Patching a library
# imports it, so HTTP functions patch each one where its first client is built (``trace_calls``):
# one that never enqueues never imports botocore, one that never calls out never imports httpx.
TRACED_MODULES = ("botocore", "httpx")


@lru_cache(maxsize=1)
def get_tracer() -> Tracer | None:
    """The X-Ray tracer, or None when tracing is off.

    Importing the X-Ray SDK costs tens of milliseconds, so it happens only in Lambda with
    tracing on (``POWERTOOLS_TRACE_DISABLED=true`` skips it), and during init: ``create_app``
    and ``traced_handler`` call this at import. It patches nothing by itself (``trace_calls``).
    """
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() in ("1", "true")
    if disabled or not os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return None
    from aws_lambda_powertools.tracing.tracer import Tracer

    return Tracer(service=_SERVICE, auto_patch=False)


def trace_calls(*libraries: str) -> None:
    """Trace the calls ``libraries`` make (X-Ray subsegments), when tracing is on; once each.

    Call it before the library's first client is built: the X-Ray SDK swaps ``httpx.AsyncClient``
    for an instrumented subclass, and wraps botocore's API call method.
    """
    tracer = get_tracer()
    if tracer is not None:
        tracer.patch(modules=libraries)


H = TypeVar("H", bound=Callable[..., Any])


def publish_metrics(handler: H) -> H:
    """Flush the invocation's EMF metrics when there are any (Powertools' ``log_metrics`` warns when there are none).

    Wrapping the handler is a worker's or cron's last step of init: the garbage collector resumes
    (``shared.coldstart_gc``), before a SnapStart snapshot.
    """
    coldstart_gc.resume()

    @functools.wraps(handler)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        finally:
            if metrics.metric_set:
                metrics.flush_metrics()

    return wrapper  # type: ignore[return-value]
