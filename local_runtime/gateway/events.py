"""Build API Gateway HTTP API (payload 2.0) events and read Lambda proxy responses."""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from local_runtime.gateway.routes import Route

_TEXT_TYPES = ("application/json", "application/problem+json", "text/", "application/x-www-form-urlencoded")


def http_api_event(
    request: Request, body: bytes, route: Route, path_params: dict[str, str], claims: dict[str, Any] | None
) -> dict[str, Any]:
    """The event API Gateway would send the function for ``request``."""
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        key = name.lower()
        headers[key] = f"{headers[key]},{value}" if key in headers and key != "cookie" else value
    cookies = [c.strip() for c in headers.pop("cookie", "").split(";") if c.strip()]
    query: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        query[name] = f"{query[name]},{value}" if name in query else value
    text = _as_text(body, headers.get("content-type", ""))
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": request.url.path,
        "rawQueryString": request.url.query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": request.url.hostname or "localhost",
            "domainPrefix": (request.url.hostname or "localhost").split(".")[0],
            "http": {
                "method": request.method,
                "path": request.url.path,
                "protocol": f"HTTP/{request.scope.get('http_version', '1.1')}",
                # The socket's peer, as API Gateway sees the TCP connection; never X-Forwarded-For
                # (serve the gateway with proxy_headers=False so the server does not rewrite it).
                "sourceIp": request.client.host if request.client else "127.0.0.1",
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex,
            "routeKey": route.route_key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": bool(body) and text is None,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if path_params:
        event["pathParameters"] = path_params
    if body:
        event["body"] = text if text is not None else base64.b64encode(body).decode("ascii")
    if claims is not None:
        # API Gateway hands JWT claims over as strings.
        event["requestContext"]["authorizer"] = {
            "jwt": {"claims": {k: v if isinstance(v, str) else str(v) for k, v in claims.items()}, "scopes": None}
        }
    return event


def to_response(result: dict[str, Any]) -> Response:
    """Turn a Lambda proxy result into an HTTP response."""
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
    response = Response(content=raw, status_code=int(result.get("statusCode", 200)))
    del response.headers["content-length"]
    for name, value in (result.get("headers") or {}).items():
        response.headers[name] = str(value)
    for values in (result.get("multiValueHeaders") or {}).items():
        for value in values[1]:
            response.headers.append(values[0], str(value))
    for cookie in result.get("cookies") or []:
        response.headers.append("set-cookie", cookie)
    response.headers["content-length"] = str(len(raw))
    return response


def _as_text(body: bytes, content_type: str) -> str | None:
    """The body as text when API Gateway passes it as text; None when it base64-encodes it.

    Binary content types, and any body that is not valid UTF-8 (whatever its content type),
    are base64-encoded, as API Gateway does, so the function decides what to answer.
    """
    if content_type and not content_type.startswith(_TEXT_TYPES):
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None
