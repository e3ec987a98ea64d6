"""The local gateway: one port, every HTTP function of serverless.yml, Lambda event shapes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route as StarletteRoute

from local_runtime.containers import Containers
from local_runtime.gateway.events import http_api_event, to_response
from local_runtime.gateway.openapi import merged_openapi
from local_runtime.gateway.routes import Route, functions, load_serverless, routes

_UNAUTHORIZED = JSONResponse({"message": "Unauthorized"}, status_code=401)
_NOT_FOUND = JSONResponse({"message": "Not Found"}, status_code=404)


def create_gateway(config: dict[str, Any] | None = None, containers: Containers | None = None) -> Starlette:
    """An ASGI app that serves every ``httpApi`` route by invoking its Lambda handler."""
    config = config or load_serverless()
    table = routes(config)
    containers = containers or Containers(functions(config))

    async def dispatch(request: Request) -> Response:
        route, params = _match(table, request.method, request.url.path)
        if route is None:
            return _NOT_FOUND
        claims = None
        if route.authorizer:
            claims = _authorize(request)
            if claims is None:
                return _UNAUTHORIZED
        event = http_api_event(request, await request.body(), route, params or {}, claims)
        result = await containers.get(route.function).invoke(event)
        return to_response(result)

    async def openapi(_: Request) -> Response:
        return JSONResponse(await merged_openapi(table, containers))

    async def docs(_: Request) -> Response:
        return HTMLResponse(_DOCS_HTML)

    app = Starlette(
        routes=[
            StarletteRoute("/openapi.json", openapi, methods=["GET"]),
            StarletteRoute("/docs", docs, methods=["GET"]),
            StarletteRoute("/{path:path}", dispatch, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]),
        ],
        lifespan=_closing(containers),
    )
    app.state.routes = table
    app.state.containers = containers
    return app


def _closing(containers: Containers) -> Any:
    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        containers.close()

    return lifespan


def _match(table: list[Route], method: str, path: str) -> tuple[Route | None, dict[str, str] | None]:
    for route in table:
        params = route.match(method, path)
        if params is not None:
            return route, params
    return None, None


def _authorize(request: Request) -> dict[str, Any] | None:
    """What API Gateway's JWT authorizer does: verify the bearer token, expose its claims."""
    from shared.auth.jwt import get_verifier
    from shared.errors import Unauthorized

    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    try:
        return dict(get_verifier().verify(token.strip()).claims)
    except Unauthorized:
        return None


_DOCS_HTML = """<!doctype html>
<html><head><title>Conversion Agents API</title>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui"});</script>
</body></html>"""

__all__ = ["create_gateway"]
