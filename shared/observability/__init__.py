"""Logging, metrics and tracing shared by every function (Powertools)."""

from shared.observability.telemetry import get_tracer, logger, metrics, publish_metrics, trace_calls
from shared.observability.tracing import traced_handler

__all__ = ["get_tracer", "logger", "metrics", "publish_metrics", "trace_calls", "traced_handler"]
