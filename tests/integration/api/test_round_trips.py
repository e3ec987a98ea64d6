"""Round trips per read: every read is one, and none calls Redis, SQS or HTTP inside a transaction.

The writes are counted in ``test_write_round_trips.py`` and ``test_webhook_round_trips.py``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from local_runtime.gateway.routes import routes
from tests.support.api import LambdaApi, LambdaResponse
from tests.support.traffic import Traffic, recorded

pytestmark = pytest.mark.integration

ORIGIN = "https://shop.example.com"
# Every GET a member or a visitor makes, with the query it is measured with; the health check has no
# transaction and Meta's handshake touches no database, so they are not reads of this kind.
READS: dict[str, str] = {
    "listOrganizations": "",
    "listInvitations": "",
    "listAgents": "",
    "getAgent": "",
    "listConversations": "",
    "getConversation": "",
    "getWidgetConversation": "",
    "listIntegrations": "",
    "listWebhookEndpoints": "",
    "listWebhookDeliveries": "",
    "listKnowledgeSources": "",
    "getKnowledgeSource": "",
    "getFunnel": "",
    "getOutcomes": "",
    "getCost": "",
    "getQuality": "",
    "listExperiments": "",
    "getExperimentResults": "",
    "listBudgets": "",
    "getUsage": "",
    "getFollowUps": "",
    "listUnansweredQuestions": "",
}
NOT_READS = {"health", "whatsappWebhook"}


@pytest.fixture
def tenant(make_org: Callable[[], dict[str, Any]], database_url: str) -> dict[str, Any]:
    """An organization with an agent (two versions) running an experiment, a web conversation with messages, an
    integration and an endpoint; ``paths`` maps each read function to the path it is asked."""
    org = make_org()
    token = secrets.token_urlsafe(32)
    with psycopg.connect(database_url, autocommit=True) as conn:

        def one(sql: str, *params: Any) -> Any:
            row = conn.execute(sql, params).fetchone()  # type: ignore[arg-type]
            assert row is not None
            return row[0]

        agent = one(
            "insert into public.agents (organization_id, name, allowed_origins) values (%s, 'A', %s) returning id",
            org["id"],
            [ORIGIN],
        )
        for version in (1, 2):
            conn.execute(
                "insert into public.agent_versions (organization_id, agent_id, version, config)"
                ' values (%s, %s, %s, \'{"persona": "p"}\')',
                (org["id"], agent, version),
            )
        conn.execute("update public.agents set current_version = 2 where id = %s", (agent,))
        experiment = one(
            "select public.create_experiment(%s, 'RT', 'conversion_rate', %s::jsonb) ->> 'id'",
            agent,
            json.dumps([{"version": 1, "weight": 1}, {"version": 2, "weight": 1}]),
        )
        lead = one("insert into public.leads (organization_id) values (%s) returning id", org["id"])
        conversation = one(
            "insert into public.conversations (organization_id, agent_id, agent_version, lead_id, channel,"
            " visitor_token_hash) values (%s, %s, 2, %s, 'web', %s) returning id",
            org["id"],
            agent,
            lead,
            hashlib.sha256(token.encode()).digest(),
        )
        for role in ("lead", "assistant", "lead"):
            conn.execute(
                "insert into public.messages (organization_id, conversation_id, role, content, status)"
                " values (%s, %s, %s, 'oi', 'sent')",
                (org["id"], conversation, role),
            )
        endpoint = one(
            "insert into public.webhook_endpoints (organization_id, url, events)"
            " values (%s, 'https://hooks.example.com/x', '{lead.qualified}') returning id",
            org["id"],
        )
        conn.execute(
            "insert into public.integrations (organization_id, kind, name) values (%s, 'rdstation', 'RD')",
            (org["id"],),
        )
        source = one(
            "insert into public.knowledge_documents (organization_id, title, content) values (%s, 'S', 'x')"
            " returning id",
            org["id"],
        )
    ids = {
        "{organization_id}": str(org["id"]),
        "{agent_id}": str(agent),
        "{conversation_id}": str(conversation),
        "{endpoint_id}": str(endpoint),
        "{source_id}": str(source),
        "{experiment_id}": str(experiment),
    }
    paths = {}
    for route in routes():
        if route.method == "GET" and route.function in READS:
            path = route.path
            for placeholder, value in ids.items():
                path = path.replace(placeholder, value)
            paths[route.function] = path
    return {"org": org, "paths": paths, "visitor_token": token}


def _get(api: LambdaApi, tenant: dict[str, Any], function: str, query: str = "") -> LambdaResponse:
    headers = {"x-visitor-token": tenant["visitor_token"], "origin": ORIGIN} if "Widget" in function else None
    path = tenant["paths"][function] + (f"?{query}" if query else "")
    return api.call("GET", path, token=tenant["org"]["viewer"].token, headers=headers)


def test_every_get_route_is_counted_here() -> None:
    # given every GET route of serverless.yml / then each is either a counted read or named as not one
    gets = {route.function for route in routes() if route.method == "GET"}
    assert gets == set(READS) | NOT_READS


@pytest.mark.parametrize(
    ("function", "query"),
    [
        *READS.items(),
        ("listConversations", "status=bot"),
        ("listConversations", "limit=1"),
        ("getConversation", "messages_limit=2"),
        ("getAgent", "version=1"),
        ("listIntegrations", "kind=rdstation"),
        ("getFunnel", "group_by=channel"),
        ("getCost", "group_by=agent_version"),
    ],
)
def test_a_warm_read_is_one_round_trip(
    api: LambdaApi, tenant: dict[str, Any], function: str, query: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a warm container (connection open, token verified once)
    assert _get(api, tenant, function, query).status == 200
    with recorded(monkeypatch) as traffic:
        # when the read is served again
        response = _get(api, tenant, function, query)
    # then it found what it looked for, in one statement that opened and committed its own transaction
    assert response.status == 200, response.body
    assert len(traffic.statements) == 1, traffic.statements
    assert traffic.statements[0].startswith("begin;")
    assert traffic.statements[0].endswith("; commit")
    _no_call_inside_a_transaction(traffic)


def test_a_conversation_comes_with_its_messages_and_a_cursor(api: LambdaApi, tenant: dict[str, Any]) -> None:
    # given a conversation with three messages
    # when the first page of two is read, then the rest with its cursor
    first = _get(api, tenant, "getConversation", "messages_limit=2").json()["messages"]
    rest = _get(api, tenant, "getConversation", f"messages_limit=2&messages_cursor={first['next_cursor']}").json()
    # then the pages follow each other, oldest first, and the last has no cursor
    assert [m["role"] for m in first["data"]] == ["lead", "assistant"]
    assert [m["role"] for m in rest["messages"]["data"]] == ["lead"]
    assert rest["messages"]["next_cursor"] is None


def test_an_agent_comes_with_the_version_asked_for(api: LambdaApi, tenant: dict[str, Any]) -> None:
    # given an agent at version 2 / when version 1 and the current one are read
    old = _get(api, tenant, "getAgent", "version=1").json()
    current = _get(api, tenant, "getAgent").json()
    # then each carries its own version
    assert (old["version"], current["version"]) == (1, 2)


@pytest.mark.parametrize(
    "function",
    [
        "listConversations",
        "listAgents",
        "getConversation",
        "getAgent",
        "getFunnel",
        "listBudgets",
        "getUsage",
        "listExperiments",
        "getExperimentResults",
        "getFollowUps",
        "listUnansweredQuestions",
    ],
)
def test_a_read_outside_the_callers_organizations_is_a_404_in_one_round_trip(
    api: LambdaApi,
    tenant: dict[str, Any],
    make_user: Callable[..., Any],
    function: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a signed-in user of no organization
    stranger = make_user()
    path = tenant["paths"][function]
    api.call("GET", path, token=stranger.token)
    with recorded(monkeypatch) as traffic:
        # when they read another tenant's resource
        response = api.call("GET", path, token=stranger.token)
    # then 404, still in one round trip
    assert response.status == 404
    assert len(traffic.statements) == 1


def _no_call_inside_a_transaction(traffic: Traffic) -> None:
    assert traffic.calls_in_transaction == [], traffic.calls_in_transaction
