"""Worker tier: the real turn worker, Router and local model, on real Postgres, Redis and moto SQS."""

from __future__ import annotations

import importlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from tests.support.aio import use_container_loop
from tests.support.lambda_events import FakeLambdaContext, load_event

AGENT_CONFIG: dict[str, Any] = {
    "persona": "Sofia, consultora de imóveis",
    "instructions": "Qualifique o lead e ofereça uma visita.",
    "goal": "book_meeting",
    "language": "pt-BR",
    "model": "fast",
    "fallback_model": "economy",
    "temperature": 0.3,
    "on_budget_exhausted": "refuse",
    "qualification_fields": [
        {"name": "name", "type": "text", "required": True, "description": "Nome do lead"},
        {"name": "email", "type": "email", "required": True, "description": "E-mail"},
        {"name": "budget", "type": "money", "required": True, "description": "Orçamento"},
        {"name": "timeline", "type": "text", "required": True, "description": "Prazo"},
    ],
}


@dataclass
class Tenant:
    """An organization with one active agent (version 1) and an organization budget."""

    org: uuid.UUID
    agent: uuid.UUID
    url: str

    def conversation(self, channel: str = "web") -> uuid.UUID:
        """A new lead and a bot conversation with it."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            lead = conn.execute(
                "insert into public.leads (organization_id) values (%s) returning id", (self.org,)
            ).fetchone()
            assert lead is not None
            row = conn.execute(
                "insert into public.conversations (organization_id, agent_id, agent_version, lead_id, channel)"
                " values (%s, %s, 1, %s, %s) returning id",
                (self.org, self.agent, lead[0], channel),
            ).fetchone()
        assert row is not None
        return uuid.UUID(str(row[0]))

    def lead_says(self, conversation: uuid.UUID, text: str) -> uuid.UUID:
        """Store a lead message as the post-message function does (status queued)."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            row = conn.execute(
                "insert into public.messages (organization_id, conversation_id, role, content, status)"
                " values (%s, %s, 'lead', %s, 'queued') returning id",
                (self.org, conversation, text),
            ).fetchone()
        assert row is not None
        return uuid.UUID(str(row[0]))

    def set_budget(self, limit: str) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(
                "update public.budgets set monthly_limit_usd = %s, spent_usd = 0, reserved_usd = 0"
                " where organization_id = %s and agent_id is null",
                (Decimal(limit), self.org),
            )

    def query(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        with psycopg.connect(self.url, row_factory=psycopg.rows.dict_row) as conn:
            return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]


@pytest.fixture
def tenant(database_url: str, app_env: dict[str, str]) -> Tenant:
    org, agent = uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "insert into public.organizations (id, name, slug) values (%s, 'Worker Org', %s)", (org, f"w-{org.hex}")
        )
        conn.execute("insert into public.agents (id, organization_id, name) values (%s, %s, 'Sofia')", (agent, org))
        conn.execute(
            "insert into public.agent_versions (organization_id, agent_id, version, config) values (%s, %s, 1, %s)",
            (org, agent, json.dumps(AGENT_CONFIG)),
        )
        conn.execute(  # the organization's budget exists from its creation (app.create_default_budget)
            "update public.budgets set monthly_limit_usd = 100 where organization_id = %s and agent_id is null", (org,)
        )
    return Tenant(org, agent, database_url)


def sqs_event(*messages: tuple[uuid.UUID, uuid.UUID], receive_count: int = 1) -> dict[str, Any]:
    """An SQS FIFO event (tests/events/sqs_fifo.json) with one record per (conversation, message)."""
    template = load_event("sqs_fifo.json")["Records"][0]
    records = []
    for conversation, message in messages:
        record = json.loads(json.dumps(template))
        record["messageId"] = str(uuid.uuid4())
        record["body"] = json.dumps({"type": "turn", "message_id": str(message)})
        record["attributes"].update(
            MessageGroupId=str(conversation),
            MessageDeduplicationId=str(message),
            ApproximateReceiveCount=str(receive_count),
        )
        records.append(record)
    return {"Records": records}


@pytest.fixture
def worker(app_env: dict[str, str]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The turn worker's Lambda handler, invoked on the container loop."""
    module = importlib.import_module("functions.workers.turn_worker.handler")

    def _invoke(event: dict[str, Any]) -> dict[str, Any]:
        use_container_loop()
        return dict(module.handler(event, FakeLambdaContext("turnWorker")))

    return _invoke


def agent_with(tenant: Tenant, **config: Any) -> uuid.UUID:
    """Another agent of the tenant, whose version 1 is ``config`` over the worker tier's."""
    agent = uuid.uuid4()
    with psycopg.connect(tenant.url, autocommit=True) as conn:
        conn.execute("insert into public.agents (id, organization_id, name) values (%s, %s, 'B')", (agent, tenant.org))
        conn.execute(
            "insert into public.agent_versions (organization_id, agent_id, version, config) values (%s, %s, 1, %s)",
            (tenant.org, agent, json.dumps({**AGENT_CONFIG, **config})),
        )
    return agent


def conversation_with(tenant: Tenant, agent: uuid.UUID, channel: str = "web", window_open: bool = True) -> uuid.UUID:
    """A conversation with ``agent`` on ``channel`` (a WhatsApp one with its 24-hour window open or not)."""
    with psycopg.connect(tenant.url, autocommit=True) as conn:
        [lead] = (
            conn.execute(
                "insert into public.leads (organization_id, phone) values (%s, %s) returning id",
                (tenant.org, "+55119" + str(uuid.uuid4().int)[:8]),
            ).fetchone()
            or ()
        )
        [conversation] = (
            conn.execute(
                "insert into public.conversations (organization_id, agent_id, agent_version, lead_id, channel,"
                " window_expires_at) values (%s, %s, 1, %s, %s, case when %s then now() + interval '1 hour' end)"
                " returning id",
                (tenant.org, agent, lead, channel, window_open),
            ).fetchone()
            or ()
        )
    return uuid.UUID(str(conversation))
