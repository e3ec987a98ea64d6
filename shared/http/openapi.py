"""OpenAPI fragments shared by routes: every error is problem+json."""

from __future__ import annotations

from typing import Any

from shared.http.problems import PROBLEM_JSON

_PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "required": ["type", "title", "status", "detail"],
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries documenting the given error statuses as problem+json."""
    return {
        status: {"description": "Problem", "content": {PROBLEM_JSON: {"schema": _PROBLEM_SCHEMA}}}
        for status in statuses
    }
