"""A widget-enabled agent, and a widget start from a chosen source address."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from tests.support.api import LambdaApi, LambdaResponse

ORIGIN = "https://loja.example"


def widget_agent(organization_id: uuid.UUID, database_url: str) -> dict[str, Any]:
    """An active agent whose widget runs on ORIGIN: {"id", "key"}."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "insert into public.agents (organization_id, name, allowed_origins) values (%s, 'Sofia', %s)"
            " returning id, publishable_key",
            (organization_id, [ORIGIN]),
        ).fetchone()
        assert row is not None
        conn.execute(
            "insert into public.agent_versions (organization_id, agent_id, version, config) values (%s, %s, 1, %s)",
            (organization_id, row[0], Jsonb({"model": "fast"})),
        )
    return {"id": row[0], "key": row[1]}


def invoke_widget(api: LambdaApi, agent: dict[str, Any], body: Any, key: str, *, ip: str) -> LambdaResponse:
    """``POST /widget/conversations`` as API Gateway would hand it over from ``ip``."""
    headers = {"X-Publishable-Key": agent["key"], "Origin": ORIGIN, "Idempotency-Key": key}
    return api.call("POST", "/widget/conversations", body=body, headers=headers, source_ip=ip)
