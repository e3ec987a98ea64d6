"""Round trips per write: every POST, PUT, PATCH and DELETE of serverless.yml takes at most two, on its happy
path, and none calls Redis, SQS or HTTP while a database transaction is open.

A write reads what its rate limit needs (one round trip, committed), asks Redis, then writes in one script
that opens the transaction under the caller's claims, claims the Idempotency-Key, writes and commits. A turn
or a send is enqueued after that commit. Counted with ``tests.support.traffic`` as the reads are
(``test_round_trips.py``); the signed webhooks are counted in ``test_webhook_round_trips.py``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest

from local_runtime.gateway.routes import routes
from tests.integration.api.test_webhook_round_trips import WEBHOOKS
from tests.support.api import LambdaApi
from tests.support.tokens import hs256_token
from tests.support.traffic import Traffic, recorded

pytestmark = pytest.mark.integration

ORIGIN = "https://shop.example.com"
MOST = 2  # issue 10: a write takes at most two round trips


@dataclass(frozen=True)
class Write:
    """One write as a caller makes it; ``capture`` keeps fields of its answer for the writes after it."""

    function: str
    method: str
    path: str
    body: Any = None
    caller: str = "owner"  # owner, invitee (an invited user), visitor (the widget's)
    capture: dict[str, str] = field(default_factory=dict)


# In an order that leaves each write the state it needs.
WRITES: list[Write] = [
    Write("createOrganization", "POST", "/organizations", {"name": "Round trips"}),
    Write(
        "addMember",
        "POST",
        "/organizations/{organization_id}/members",
        {"email": "{invitee_email}", "role": "viewer"},
        capture={"{invitation_id}": "invitation_id"},
    ),
    Write("acceptInvitation", "POST", "/invitations/{invitation_id}/accept", caller="invitee"),
    Write("createAgent", "POST", "/organizations/{organization_id}/agents", {"name": "B", "persona": "p"}),
    Write("updateAgent", "PATCH", "/agents/{agent_id}", {"temperature": 0.5}),
    Write(
        "createExperiment",
        "POST",
        "/agents/{agent_id}/experiments",
        {"name": "E", "variants": [{"version": 1, "weight": 1}, {"version": 2, "weight": 1}]},
        capture={"{experiment_id}": "id"},
    ),
    Write("stopExperiment", "POST", "/experiments/{experiment_id}/stop", {}),
    Write(
        "setBudget",
        "PUT",
        "/organizations/{organization_id}/budgets",
        {"limit_usd": "10", "period": "week", "alert_thresholds": ["0.5", "0.9"]},
    ),
    Write(
        "startConversation",
        "POST",
        "/organizations/{organization_id}/conversations",
        {"agent_id": "{agent_id}", "message": "oi"},
    ),
    Write("postMessage", "POST", "/conversations/{conversation_id}/messages", {"content": "oi"}),
    Write("changeFollowUps", "POST", "/conversations/{conversation_id}/follow-ups", {"action": "pause"}),
    Write("takeOverConversation", "POST", "/conversations/{conversation_id}/takeover"),
    # Back to the bot with the message posted above unanswered: its turn is queued again.
    Write("returnToBot", "POST", "/conversations/{conversation_id}/release"),
    Write("humanReply", "POST", "/conversations/{human_conversation_id}/replies", {"content": "olá"}),
    Write("closeConversation", "POST", "/conversations/{conversation_id}/close"),
    Write(
        "startWidgetConversation",
        "POST",
        "/widget/conversations",
        {"message": "oi"},
        caller="widget",
        capture={"{widget_conversation_id}": "conversation_id", "{visitor_token}": "visitor_token"},
    ),
    Write(
        "postWidgetMessage",
        "POST",
        "/widget/conversations/{widget_conversation_id}/messages",
        {"content": "oi"},
        caller="visitor",
    ),
    Write(
        "createIntegration",
        "POST",
        "/organizations/{organization_id}/integrations",
        {
            "kind": "pipedrive",
            "name": "P",
            "credentials": {"api_token": "t" * 40, "webhook_username": "u", "webhook_password": "p" * 24},
        },
    ),
    Write("updateIntegration", "PATCH", "/integrations/{integration_id}", {"enabled": False}),
    Write("deleteIntegration", "DELETE", "/integrations/{integration_id}"),
    Write(
        "createWebhookEndpoint",
        "POST",
        "/organizations/{organization_id}/webhook-endpoints",
        {"url": "https://hooks.example.com/rt", "events": ["lead.qualified"]},
    ),
    Write("updateWebhookEndpoint", "PATCH", "/webhook-endpoints/{endpoint_id}", {"enabled": True}),
    Write("rotateWebhookSecret", "POST", "/webhook-endpoints/{endpoint_id}/rotate-secret", {}),
    Write("deleteWebhookEndpoint", "DELETE", "/webhook-endpoints/{endpoint_id}"),
    Write(
        "createKnowledgeSource",
        "POST",
        "/organizations/{organization_id}/knowledge/sources",
        {"kind": "text", "title": "RT", "content": "Horário: 9h às 18h."},
    ),
    Write("updateKnowledgeSource", "PATCH", "/knowledge/sources/{source_id}", {"title": "RT 2"}),
    Write("reindexKnowledgeSource", "POST", "/knowledge/sources/{source_id}/reindex"),
    Write("deleteKnowledgeSource", "DELETE", "/knowledge/sources/{source_id}"),
    Write("archiveAgent", "DELETE", "/agents/{agent_id}"),
]


def _user(conn: psycopg.Connection[Any], jwt_secret: str, *, confirmed: bool = False) -> tuple[uuid.UUID, str, str]:
    user = uuid.uuid4()
    email = f"{user.hex}@example.com"
    conn.execute(
        "insert into auth.users (id, email, email_confirmed_at) values (%s, %s, case when %s then now() end)",
        (user, email, confirmed),
    )
    return user, email, hs256_token(jwt_secret, user, email)


@pytest.fixture(scope="module")
def module_tenant(database_url: str, jwt_secret: str) -> dict[str, Any]:
    """An owner's organization with an agent (its widget allowed from ORIGIN), a conversation with the bot and a
    scheduled follow-up, one the owner has taken over, an integration, a webhook endpoint and a knowledge source;
    and a confirmed user to invite."""
    org = uuid.uuid4()
    with psycopg.connect(database_url, autocommit=True) as conn:
        owner, _, owner_token = _user(conn, jwt_secret)
        _, invitee_email, invitee_token = _user(conn, jwt_secret, confirmed=True)
        conn.execute(
            "insert into public.organizations (id, name, slug) values (%s, 'RT', %s)", (org, f"rt-{org.hex[:12]}")
        )
        conn.execute(
            "insert into public.memberships (organization_id, user_id, role) values (%s, %s, 'owner')", (org, owner)
        )

        def one(sql: str, *params: Any) -> str:
            row = conn.execute(sql, params).fetchone()
            assert row is not None
            return str(row[0])

        agent = one(
            "insert into public.agents (organization_id, name, allowed_origins) values (%s, 'A', %s) returning id",
            org,
            [ORIGIN],
        )
        conn.execute(
            "insert into public.agent_versions (organization_id, agent_id, version, config)"
            ' values (%s, %s, 1, \'{"persona": "p"}\')',
            (org, agent),
        )
        lead = one("insert into public.leads (organization_id) values (%s) returning id", org)
        conversation = one(
            "insert into public.conversations (organization_id, agent_id, agent_version, lead_id, channel)"
            " values (%s, %s, 1, %s, 'api') returning id",
            org,
            agent,
            lead,
        )
        human_conversation = one(
            "insert into public.conversations (organization_id, agent_id, agent_version, lead_id, channel, status,"
            " assigned_to) values (%s, %s, 1, %s, 'api', 'human', %s) returning id",
            org,
            agent,
            lead,
            owner,
        )
        conn.execute(
            "insert into public.follow_ups (organization_id, conversation_id, lead_id, step, anchor_at, due_at,"
            " time_zone, status) values (%s, %s, %s, 0, now(), now() + interval '1 hour', 'UTC', 'scheduled')",
            (org, conversation, lead),
        )
        ids = {
            "{organization_id}": str(org),
            "{agent_id}": agent,
            "{conversation_id}": conversation,
            "{human_conversation_id}": human_conversation,
            "{invitee_email}": invitee_email,
            "{publishable_key}": one("select publishable_key from public.agents where id = %s", agent),
            "{integration_id}": one(
                "insert into public.integrations (organization_id, kind, name) values (%s, 'rdstation', 'RD')"
                " returning id",
                org,
            ),
            "{endpoint_id}": one(
                "insert into public.webhook_endpoints (organization_id, url, events)"
                " values (%s, 'https://hooks.example.com/x', '{lead.qualified}') returning id",
                org,
            ),
            "{source_id}": one(
                "insert into public.knowledge_documents (organization_id, title, content) values (%s, 'S', 'x')"
                " returning id",
                org,
            ),
        }
    return {"ids": ids, "tokens": {"owner": owner_token, "invitee": invitee_token}}


def _fill(value: Any, ids: dict[str, str]) -> Any:
    text = json.dumps(value)
    for placeholder, filled in ids.items():
        text = text.replace(placeholder, filled)
    return json.loads(text)


def _call(api: LambdaApi, write: Write, tenant: dict[str, Any]) -> Any:
    ids = tenant["ids"]
    headers = {"idempotency-key": uuid.uuid4().hex}
    token = tenant["tokens"].get(write.caller)
    if write.caller == "widget":
        headers |= {"x-publishable-key": ids["{publishable_key}"], "origin": ORIGIN}
    elif write.caller == "visitor":
        headers |= {"authorization": f"Bearer {ids['{visitor_token}']}", "origin": ORIGIN}
    body = _fill(write.body, ids) if write.body is not None else None
    return api.call(write.method, _fill(write.path, ids), token=token, body=body, headers=headers)


@pytest.fixture(scope="module")
def writes(api: LambdaApi, module_tenant: dict[str, Any]) -> dict[str, tuple[int, str, Traffic]]:
    """Each write run once, in order: its status, its answer and what it sent."""
    seen: dict[str, tuple[int, str, Traffic]] = {}
    for write in WRITES:
        with pytest.MonkeyPatch.context() as mp:
            with recorded(mp) as traffic:
                response = _call(api, write, module_tenant)
            seen[write.function] = (response.status, response.body, traffic)
            if response.status < 300:
                for placeholder, name in write.capture.items():
                    module_tenant["ids"][placeholder] = str(response.json()[name])
    return seen


def test_a_release_queues_the_unanswered_message_after_its_commit(
    writes: dict[str, tuple[int, str, Traffic]], module_tenant: dict[str, Any], database_url: str
) -> None:
    # given the conversation returned to the bot with the lead's message unanswered
    _, _, traffic = writes["returnToBot"]
    # then its turn was sent to the queue (outside the transaction, as counted above), and the message is queued
    assert "aws SendMessage" in traffic.calls, traffic.calls
    with psycopg.connect(database_url) as conn:
        statuses = conn.execute(
            "select status::text from public.messages where conversation_id = %s and role = 'lead'",
            (module_tenant["ids"]["{conversation_id}"],),
        ).fetchall()
    assert statuses == [("queued",)]


def test_every_write_route_is_counted() -> None:
    # given every POST, PUT, PATCH and DELETE of serverless.yml / then each is a write counted here or a webhook
    found = {r.function for r in routes() if r.method in ("POST", "PUT", "PATCH", "DELETE")}
    counted = [w.function for w in WRITES]
    assert len(counted) == len(set(counted))
    assert found == set(counted) | set(WEBHOOKS)


@pytest.mark.parametrize("function", [w.function for w in WRITES])
def test_no_write_calls_redis_sqs_or_http_inside_a_transaction(
    writes: dict[str, tuple[int, str, Traffic]], function: str
) -> None:
    # given the write, run through its handler / then it succeeded and made its calls outside any transaction
    status, body, traffic = writes[function]
    assert status < 300, (function, status, body)
    assert traffic.calls_in_transaction == [], traffic.calls_in_transaction


@pytest.mark.parametrize("function", [w.function for w in WRITES])
def test_a_write_takes_at_most_two_round_trips(writes: dict[str, tuple[int, str, Traffic]], function: str) -> None:
    # given the write, run through its handler on its happy path
    status, body, traffic = writes[function]
    assert status < 300, (function, status, body)
    # then it took at most two round trips
    assert len(traffic.statements) <= MOST, traffic.statements
