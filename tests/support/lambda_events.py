"""Canonical AWS event fixtures (tests/events/*.json), loaded and adapted per test."""

from __future__ import annotations

import copy
import json
import uuid
from functools import cache
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).resolve().parents[1] / "events"


@cache
def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return data


def load_event(name: str) -> dict[str, Any]:
    """A fresh copy of the canonical event ``tests/events/<name>``."""
    return copy.deepcopy(_load(name))


def http_event(
    method: str,
    path: str,
    *,
    body: Any = None,
    raw_body: str | None = None,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    query: str = "",
    route_key: str | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (v2) event for one request, built from the canonical fixture."""
    event = load_event("apigw_http_v2.json")
    all_headers = {"content-type": "application/json", **{k.lower(): v for k, v in (headers or {}).items()}}
    if token:
        all_headers["authorization"] = f"Bearer {token}"
    event["routeKey"] = route_key or f"{method} {path}"
    event["rawPath"] = path
    event["rawQueryString"] = query
    event["headers"] = all_headers
    event["queryStringParameters"] = dict(p.split("=", 1) for p in query.split("&") if "=" in p) or None
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["http"]["path"] = path
    event["requestContext"]["requestId"] = uuid.uuid4().hex
    event["requestContext"]["routeKey"] = event["routeKey"]
    event["body"] = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
    event["isBase64Encoded"] = False
    event.pop("pathParameters", None)
    event.pop("cookies", None)
    return event


class FakeLambdaContext:
    """The attributes of ``LambdaContext`` that handlers and Powertools read."""

    def __init__(self, function_name: str = "test-function") -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "2026/11/25/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000
