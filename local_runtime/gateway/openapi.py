"""Merge the OpenAPI documents of every HTTP function into one, as the deployed API exposes."""

from __future__ import annotations

from typing import Any

from local_runtime.containers import Containers
from local_runtime.gateway.routes import Route

_BEARER = {"supabaseJwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
# What API Gateway's JWT authorizer answers, before any function runs, to a missing or invalid token.
_AUTHORIZER_401_SCHEMA = {
    "title": "GatewayUnauthorized",
    "type": "object",
    "properties": {"message": {"type": "string", "const": "Unauthorized"}},
    "required": ["message"],
}


def _with_authorizer_401(operation: dict[str, Any]) -> dict[str, Any]:
    """Document the 401 as AWS sends it (``{"message": "Unauthorized"}``, application/json)."""
    responses = dict(operation.get("responses", {}))
    content = dict(responses.get("401", {}).get("content", {}))
    content["application/json"] = {"schema": {"$ref": "#/components/schemas/GatewayUnauthorized"}}
    responses["401"] = {
        "description": "No valid bearer token: API Gateway's JWT authorizer answers"
        ' `{"message": "Unauthorized"}` (application/json) before the function runs',
        "content": content,
    }
    return {**operation, "responses": responses, "security": [{"supabaseJwt": []}]}


async def merged_openapi(table: list[Route], containers: Containers) -> dict[str, Any]:
    """One OpenAPI 3.1 document with every route of serverless.yml."""
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {"GatewayUnauthorized": _AUTHORIZER_401_SCHEMA}
    for route in table:
        module = await containers.get(route.function).module()
        document = module.app.openapi()
        method = route.method.lower()
        operation = document.get("paths", {}).get(route.path, {}).get(method)
        if operation is None:
            continue
        if route.authorizer:
            operation = _with_authorizer_401(operation)
        operation.setdefault("operationId", route.function)
        paths.setdefault(route.path, {})[method] = operation
        schemas.update(document.get("components", {}).get("schemas", {}))
    return {
        "openapi": "3.1.0",
        "info": {"title": "Conversion Agents API", "version": "0.1.0"},
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(schemas.items())), "securitySchemes": _BEARER},
    }
