"""What each benchmarked function is asked: one representative request per function."""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

import psycopg

from local_runtime.gateway.routes import functions, routes


@dataclass(frozen=True)
class Case:
    """A function (or floor) and the request used to measure it."""

    name: str
    module: str
    method: str
    path: str
    route_key: str
    body: dict[str, Any] | None = None
    auth: bool = False
    floor: str | None = None  # which floor its warm latency is compared with
    headers: dict[str, str] = field(default_factory=dict)


FLOOR_COLD = Case("floor: FastAPI+Mangum hello", "bench.floors.hello", "GET", "/hello", "GET /hello")
FLOOR_WARM = Case("floor: FastAPI+Mangum+SELECT", "bench.floors.select_one", "GET", "/select", "GET /select")
# What every authenticated read pays before it reads: one round trip of begin, role and claims, select 1, commit.
FLOOR_RLS = Case(
    "floor: FastAPI+Mangum+RLS transaction", "bench.floors.rls_select", "GET", "/rls-select", "GET /rls-select"
)
WIDGET_ORIGIN = "https://shop.example.com"
WHATSAPP_VERIFY_TOKEN = secrets.token_hex(16)  # a fresh one per run, shared with the functions via env
# Signed inbound webhooks (HubSpot, Pipedrive, RD Station, WhatsApp POST) have their own benchmark
# (python -m bench.whatsapp_webhook); here they would only measure the 401 path.
SIGNED_WEBHOOKS = {
    "POST /webhooks/whatsapp",
    "POST /webhooks/hubspot",
    "POST /webhooks/pipedrive/{integration_id}",
    "POST /webhooks/rdstation/{integration_id}",
}

BODIES: dict[str, dict[str, Any]] = {
    "createOrganization": {"name": "Bench Org"},
    "addMember": {"email": "bench-member@example.com", "role": "viewer"},
    "createAgent": {"name": "Bench agent", "persona": "Bench", "preset": "bant"},
    "updateAgent": {"temperature": 0.5},
    "startConversation": {"lead": {"name": "Bench Lead"}},  # agent_id added from the seed
    "postMessage": {"content": "Oi, meu nome é Ana"},
    "humanReply": {"content": "Olá, aqui é a equipe"},
    "startWidgetConversation": {"visitor": {"name": "Visitor"}},
    "postWidgetMessage": {"content": "Oi"},
    "createWebhookEndpoint": {"url": "https://hooks.example.com/bench", "events": ["lead.qualified"]},
    "updateWebhookEndpoint": {"enabled": True},
    "createIntegration": {
        "kind": "pipedrive",
        "name": "Bench",
        "credentials": {"api_token": "t" * 40, "webhook_username": "bench", "webhook_password": "p" * 24},
    },
    "updateIntegration": {"enabled": True},
    "createExperiment": {"name": "Bench", "variants": [{"version": 1, "weight": 1}, {"version": 2, "weight": 1}]},
    "stopExperiment": {},
    "setBudget": {"limit_usd": "50", "per_conversation_limit_usd": "1"},
}


# Functions that change what they touch get a resource of their own, so the others measure the
# same request every time; a state change that cannot repeat (take over, release, close) is
# measured on its first call's success and then on its 409.
OWN_RESOURCES = {
    "archiveAgent": "agent",
    "deleteWebhookEndpoint": "endpoint",
    "deleteIntegration": "integration",
    "deleteKnowledgeSource": "source",
    "closeConversation": "conversation:bot",
    "takeOverConversation": "conversation:bot",
    "returnToBot": "conversation:human",
    "humanReply": "conversation:human",
    "postMessage": "conversation:bot",
}


class _Seeder:
    """Inserts bench resources with plain SQL (as the service path would)."""

    def __init__(self, conn: psycopg.Connection[Any], organization_id: str) -> None:
        self.conn, self.org = conn, organization_id
        self.publishable_key = f"pk_bench_{uuid.uuid4().hex}"
        self.visitor_token = secrets.token_urlsafe(32)

    def one(self, sql: str, *params: Any) -> str:
        row = self.conn.execute(sql, params).fetchone()
        assert row is not None
        return str(row[0])

    def agent(self, key: str | None = None) -> str:
        agent = self.one(
            "insert into public.agents (organization_id, name, publishable_key, allowed_origins)"
            " values (%s, 'Bench', coalesce(%s, 'pk_' || md5(random()::text)), %s) returning id",
            self.org,
            key,
            [WIDGET_ORIGIN],
        )
        self.conn.execute(
            "insert into public.agent_versions (organization_id, agent_id, version, config) values (%s, %s, 1, %s)",
            (self.org, agent, json.dumps({"persona": "Bench", "model": "fast"})),
        )
        return agent

    def conversation(self, agent: str, status: str) -> str:
        lead = self.one("insert into public.leads (organization_id) values (%s) returning id", self.org)
        return self.one(
            "insert into public.conversations (organization_id, agent_id, agent_version, lead_id, channel,"
            " status, visitor_token_hash) values (%s, %s, 1, %s, 'web', %s, %s) returning id",
            self.org,
            agent,
            lead,
            status,
            hashlib.sha256(self.visitor_token.encode()).digest(),
        )

    def experiment(self) -> str:
        """A running experiment between versions 1 and 2 of an agent of its own."""
        agent = self.agent()
        self.conn.execute(
            "insert into public.agent_versions (organization_id, agent_id, version, config) values (%s, %s, 2, %s)",
            (self.org, agent, json.dumps({"persona": "Bench 2", "model": "fast"})),
        )
        variants = json.dumps([{"version": 1, "weight": 1}, {"version": 2, "weight": 1}])
        return self.one(
            "select public.create_experiment(%s, 'Bench', 'conversion_rate', %s::jsonb) ->> 'id'", agent, variants
        )

    def endpoint(self) -> str:
        return self.one(
            "insert into public.webhook_endpoints (organization_id, url, events)"
            " values (%s, 'https://hooks.example.com/x', '{lead.qualified}') returning id",
            self.org,
        )

    def source(self) -> str:
        """A knowledge source (its text only: the read does not need chunks)."""
        return self.one(
            "insert into public.knowledge_documents (organization_id, title, content) values (%s, 'Bench', 'x')"
            " returning id",
            self.org,
        )

    def integration(self) -> str:
        return self.one(
            "insert into public.integrations (organization_id, kind, name) values (%s, 'rdstation', 'x') returning id",
            self.org,
        )


def seed(database_url: str, organization_id: uuid.UUID) -> dict[str, dict[str, str]]:
    """Path ids and credentials per function (``"*"``: the shared ones) in the bench organization."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        s = _Seeder(conn, str(organization_id))
        agent = s.agent(s.publishable_key)
        shared = {
            "{organization_id}": s.org,
            "{agent_id}": agent,
            "{conversation_id}": s.conversation(agent, "bot"),
            "{endpoint_id}": s.endpoint(),
            "{integration_id}": s.integration(),
            "{source_id}": s.source(),
            "{experiment_id}": s.experiment(),
            "publishable_key": s.publishable_key,
            "visitor_token": s.visitor_token,
        }
        ids = {"*": shared}
        for function, kind in OWN_RESOURCES.items():
            name, _, status = kind.partition(":")
            if name == "conversation":
                ids[function] = {**shared, "{conversation_id}": s.conversation(agent, status)}
            else:
                ids[function] = {**shared, "{" + name + "_id}": getattr(s, name)()}
    return ids


def _body(function: str, ids: dict[str, str]) -> dict[str, Any] | None:
    body = BODIES.get(function)
    if function == "startConversation":
        return {**(body or {}), "agent_id": ids["{agent_id}"]}
    return body


def _headers(function: str, ids: dict[str, str]) -> dict[str, str]:
    if function == "startWidgetConversation":
        return {"x-publishable-key": ids["publishable_key"], "origin": WIDGET_ORIGIN}
    if function in ("postWidgetMessage", "getWidgetConversation"):
        return {"x-visitor-token": ids["visitor_token"], "origin": WIDGET_ORIGIN}
    return {}


def _path(path: str, function: str, ids: dict[str, str]) -> str:
    for placeholder, value in ids.items():
        path = path.replace(placeholder, value)
    if function == "whatsappWebhook":
        path += f"?hub.mode=subscribe&hub.verify_token={WHATSAPP_VERIFY_TOKEN}&hub.challenge=1158201444"
    return path


def function_cases(seeded: dict[str, dict[str, str]]) -> list[Case]:
    """One case per HTTP function in serverless.yml (its first route), signed webhooks aside."""
    modules = {spec.name: spec.module for spec in functions()}
    cases: dict[str, Case] = {}
    for route in routes():
        if route.function in cases or route.route_key in SIGNED_WEBHOOKS:
            continue
        ids = seeded.get(route.function, seeded["*"])
        cases[route.function] = Case(
            name=route.function,
            module=modules[route.function],
            method=route.method,
            path=_path(route.path, route.function, ids),
            route_key=route.route_key,
            body=_body(route.function, ids),
            auth=route.authorizer is not None,
            floor="select",
            headers=_headers(route.function, ids),
        )
    return sorted(cases.values(), key=lambda c: c.name)
