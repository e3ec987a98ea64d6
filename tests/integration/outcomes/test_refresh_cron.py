"""The refreshAnalytics cron: a conversation touched since its last run gets its rollup row recomputed."""

from __future__ import annotations

import importlib
import uuid
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from tests.support.aio import use_container_loop
from tests.support.lambda_events import FakeLambdaContext, load_event

pytestmark = pytest.mark.integration


def _rollup(database_url: str, conversation: uuid.UUID) -> Any:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "select llm_calls, llm_cost_usd, conversions from public.analytics_conversations"
            " where conversation_id = %s",
            (conversation,),
        ).fetchone()


def test_the_cron_recomputes_what_changed_since_its_last_run(database_url: str, app_env: dict[str, str]) -> None:
    # given a conversation with one model call, and a CRM win arriving later
    org, agent, lead, conversation = (uuid.uuid4() for _ in range(4))
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("insert into public.organizations (id, name, slug) values (%s, 'Cron', %s)", (org, org.hex))
        conn.execute("insert into public.agents (id, organization_id, name) values (%s, %s, 'A')", (agent, org))
        conn.execute(
            "insert into public.agent_versions (organization_id, agent_id, version, config) values (%s, %s, 1, '{}')",
            (org, agent),
        )
        conn.execute("insert into public.leads (id, organization_id) values (%s, %s)", (lead, org))
        conn.execute(
            "insert into public.conversations (id, organization_id, agent_id, agent_version, lead_id, channel)"
            " values (%s, %s, %s, 1, %s, 'web')",
            (conversation, org, agent, lead),
        )
        conn.execute(
            "insert into public.llm_usage (organization_id, agent_id, conversation_id, model, cost_usd)"
            " values (%s, %s, %s, 'gpt-4o-mini', 0.0025)",
            (org, agent, conversation),
        )
    handler = importlib.import_module("functions.crons.refresh_analytics.handler").handler
    use_container_loop()
    # when the cron runs on its schedule
    first = handler(load_event("eventbridge_scheduled.json"), FakeLambdaContext("refreshAnalytics"))
    # then the conversation's rollup row holds its call and cost
    assert first["conversations"] >= 1
    assert _rollup(database_url, conversation) == (1, Decimal("0.0025"), 0)
    # and when a conversion is recorded (touching only the conversions table) and the cron runs again
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "insert into public.conversions (organization_id, lead_id, conversation_id, type, value)"
            " values (%s, %s, %s, 'purchase', 900)",
            (org, lead, conversation),
        )
    handler(load_event("eventbridge_scheduled.json"), FakeLambdaContext("refreshAnalytics"))
    # then the row counts it
    assert _rollup(database_url, conversation) == (1, Decimal("0.0025"), 1)
