"""Per-invocation log context: request id, function name and organization id."""

from __future__ import annotations

from typing import Any

from shared.observability.telemetry import logger
from shared.observability.tracing import annotate

_PER_REQUEST_KEYS = ["request_id", "correlation_id", "function_name", "organization_id", "cold_start"]


def begin_invocation(aws_context: Any, aws_event: dict[str, Any] | None, cold_start: bool) -> str:
    """Reset the log keys for a new invocation and return its correlation id."""
    formatter = logger.registered_formatter  # looked up once: each lookup walks the logging tree
    formatter.remove_keys(_PER_REQUEST_KEYS)
    request_context = (aws_event or {}).get("requestContext") or {}
    correlation_id = str(request_context.get("requestId") or getattr(aws_context, "aws_request_id", "") or "")
    formatter.append_keys(
        request_id=getattr(aws_context, "aws_request_id", None),
        correlation_id=correlation_id or None,
        function_name=getattr(aws_context, "function_name", None),
        cold_start=cold_start,
    )
    return correlation_id


def bind_organization(organization_id: object) -> None:
    """Tag every following log line and the trace with the organization in scope."""
    logger.append_keys(organization_id=str(organization_id))
    annotate("organization_id", str(organization_id))
