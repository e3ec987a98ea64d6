"""Pure-ASGI middleware: log context per invocation, request id header, last-resort 500."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.http.problems import internal_error
from shared.observability import logger, metrics
from shared.observability.context import begin_invocation
from shared.observability.tracing import request_subsegment


class InvocationMiddleware:
    """Binds the Lambda context to logs and turns an unexpected exception into a problem 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._cold = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cold, self._cold = self._cold, False
        request_id = begin_invocation(scope.get("aws.context"), scope.get("aws.event"), cold)
        if cold:
            metrics.add_metric(name="ColdStart", unit="Count", value=1)
        started = time.perf_counter()
        status = {"code": 500, "sent": False}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["sent"] = message["status"], True
                if request_id:
                    message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            # Annotations (the organization, say) need a subsegment: Lambda's own segment is read-only.
            async with request_subsegment("## request", cold):
                await self.app(scope, receive, send_with_id)
        except Exception:
            logger.exception("unhandled error")
            if not status["sent"]:
                await internal_error()(scope, receive, send_with_id)
        finally:
            _log_completion(scope, int(status["code"]), started)
            if metrics.metric_set:
                metrics.flush_metrics()


def _log_completion(scope: Scope, status: int, started: float) -> None:
    duration_ms = round((time.perf_counter() - started) * 1000, 2)
    fields = {"method": scope.get("method"), "path": scope.get("path"), "status": status, "duration_ms": duration_ms}
    if status >= 500:
        logger.error("request failed", extra=fields)
    elif status >= 400:
        logger.warning("request rejected", extra=fields)
    else:
        logger.debug("request completed", extra=fields)
