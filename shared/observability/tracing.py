"""X-Ray tracing the Powertools way: every invocation opens its own subsegment.

In Lambda the X-Ray SDK hands out a *facade* segment that Lambda itself owns; writing an
annotation to it raises ``FacadeSegmentMutationException``. So annotations only ever go
to a subsegment: queue workers and crons open one with Powertools' ``capture_lambda_handler``
(``traced_handler``), HTTP functions one per request (``request_subsegment``, from the
middleware every app gets), and ``annotate`` writes to the innermost open subsegment or
nowhere. The tracer is built during init (``create_app`` / ``traced_handler`` run at import),
so the first request does not pay for loading the SDK.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar, cast

from shared.observability.telemetry import TRACED_MODULES, get_tracer, trace_calls

H = TypeVar("H", bound=Callable[..., Any])

# Responses carry personal data (messages, leads): never copy them into trace metadata.
_CAPTURE_RESPONSE = False


def traced_handler(handler: H) -> H:
    """Wrap a plain Lambda handler in Powertools' ``capture_lambda_handler`` when tracing is on.

    Workers and crons patch every traced library at init: their cold start is not on a user's path.
    """
    tracer = get_tracer()
    if tracer is None:
        return handler
    trace_calls(*TRACED_MODULES)
    return cast(H, tracer.capture_lambda_handler(handler, capture_response=_CAPTURE_RESPONSE))


# What a request is wrapped in when tracing is off: one shared no-op context, no generator per request.
_NO_SUBSEGMENT: contextlib.AbstractAsyncContextManager[None] = contextlib.nullcontext()


def request_subsegment(name: str, cold_start: bool) -> contextlib.AbstractAsyncContextManager[None]:
    """One subsegment around an HTTP request, annotated as ``capture_lambda_handler`` would; a no-op untraced."""
    tracer = get_tracer()
    if tracer is None:
        return _NO_SUBSEGMENT
    return _subsegment(tracer, name, cold_start)


@contextlib.asynccontextmanager
async def _subsegment(tracer: Any, name: str, cold_start: bool) -> AsyncIterator[None]:
    provider: Any = tracer.provider
    async with provider.in_subsegment_async(name=name) as subsegment:
        subsegment.put_annotation(key="ColdStart", value=cold_start)
        if tracer.service:
            subsegment.put_annotation(key="Service", value=tracer.service)
        yield


def annotate(key: str, value: str | int | float | bool) -> None:
    """Annotate the innermost open subsegment; never the facade segment, never outside one."""
    tracer = get_tracer()
    if tracer is None:
        return
    provider: Any = tracer.provider  # aws_xray_sdk's recorder; Powertools' base type lacks current_subsegment
    subsegment = provider.current_subsegment()
    if subsegment is not None:
        subsegment.put_annotation(key=key, value=value)
