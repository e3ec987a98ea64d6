"""Pure-ASGI middleware: log context per invocation, request id header, last-resort 500, body limits."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import coldstart_gc, json_body
from shared.errors import AppError, PayloadTooLarge
from shared.http.problems import from_app_error, internal_error
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
            if cold:
                # After the first request, not before: the clients it builds import httpx, upstash-redis
                # and the like (as long-lived as init's, so frozen with them), and the ~18 collections
                # those imports set off (6-37 ms on the artefact bench) do not run inside it.
                coldstart_gc.resume()


def _log_completion(scope: Scope, status: int, started: float) -> None:
    duration_ms = round((time.perf_counter() - started) * 1000, 2)
    fields = {"method": scope.get("method"), "path": scope.get("path"), "status": status, "duration_ms": duration_ms}
    if status >= 500:
        logger.error("request failed", extra=fields)
    elif status >= 400:
        logger.warning("request rejected", extra=fields)
    else:
        logger.debug("request completed", extra=fields)


class BodyLimitMiddleware:
    """Reads the body once and refuses it (413, or 400 past the nesting limit) before FastAPI parses it.

    FastAPI's own JSON parsing (``json.loads``) recurses per nesting level; checking first keeps a
    hostile body from reaching it, the idempotency hash or any route.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size <= json_body.MAX_BYTES:
                chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        content_type = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"content-type"), "")
        try:
            if size > json_body.MAX_BYTES:  # what was read past the limit was not kept
                raise PayloadTooLarge(f"body is larger than {json_body.MAX_BYTES} bytes")
            json_body.check_request(body, content_type)
        except AppError as exc:
            await from_app_error(exc)(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)
