"""Call Lambda handlers exactly as API Gateway would, routing by serverless.yml."""

from __future__ import annotations

import base64
import importlib
import json
from dataclasses import dataclass
from typing import Any

from local_runtime.gateway.routes import functions, routes
from tests.support.aio import use_container_loop
from tests.support.lambda_events import FakeLambdaContext, http_event


@dataclass
class LambdaResponse:
    """A Lambda proxy result, read like an HTTP response."""

    status: int
    headers: dict[str, str]
    body: str

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


class LambdaApi:
    """Routes ``method path`` through serverless.yml to the function's handler and invokes it."""

    def __init__(self) -> None:
        self._routes = routes()
        self._specs = {spec.name: spec for spec in functions()}

    def function_for(self, method: str, path: str) -> tuple[str, str]:
        for route in self._routes:
            if route.match(method, path) is not None:
                return route.function, route.route_key
        raise LookupError(f"no route for {method} {path}")

    def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: Any = None,
        raw_body: str | None = None,
        headers: dict[str, str] | None = None,
        source_ip: str | None = None,
    ) -> LambdaResponse:
        path, _, query = path.partition("?")
        name, route_key = self.function_for(method, path)
        spec = self._specs[name]
        # Before the import: Mangum's constructor takes the thread's current loop, or makes (and leaks) one.
        use_container_loop()
        handler = getattr(importlib.import_module(spec.module), spec.attribute)
        event = http_event(
            method, path, body=body, raw_body=raw_body, token=token, headers=headers, route_key=route_key, query=query
        )
        if source_ip is not None:
            event["requestContext"]["http"]["sourceIp"] = source_ip
        result = handler(event, FakeLambdaContext(name))
        body = result.get("body") or ""
        if result.get("isBase64Encoded"):  # API Gateway decodes what Mangum encoded (e.g. problem+json)
            body = base64.b64decode(body).decode("utf-8")
        return LambdaResponse(
            status=result["statusCode"],
            headers={k.lower(): v for k, v in (result.get("headers") or {}).items()},
            body=body,
        )
