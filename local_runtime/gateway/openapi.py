"""Merge the OpenAPI documents of every HTTP function into one, as the deployed API exposes."""

from __future__ import annotations

from typing import Any

from local_runtime.containers import Containers
from local_runtime.gateway.routes import Route

_BEARER = {"supabaseJwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}


async def merged_openapi(table: list[Route], containers: Containers) -> dict[str, Any]:
    """One OpenAPI 3.1 document with every route of serverless.yml."""
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    for route in table:
        module = await containers.get(route.function).module()
        document = module.app.openapi()
        method = route.method.lower()
        operation = document.get("paths", {}).get(route.path, {}).get(method)
        if operation is None:
            continue
        if route.authorizer:
            operation = {**operation, "security": [{"supabaseJwt": []}]}
        operation.setdefault("operationId", route.function)
        paths.setdefault(route.path, {})[method] = operation
        schemas.update(document.get("components", {}).get("schemas", {}))
    return {
        "openapi": "3.1.0",
        "info": {"title": "Conversion Agents API", "version": "0.1.0"},
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(schemas.items())), "securitySchemes": _BEARER},
    }
