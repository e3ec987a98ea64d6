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
    "startConversation": {"lead": {"name": "Bench Lead"}},
    "postMessage": {"content": "Oi, meu nome é Ana"},
    "humanReply": {"content": "Olá, aqui é a equipe"},
    "startWidgetConversation": {"visitor": {"name": "Visitor"}},
    "postWidgetMessage": {"content": "Oi"},
    "createWebhookEndpoint": {"url": "https://hooks.example.com/bench", "events": ["lead.qualified"]},
    "updateWebhookEndpoint": {"enabled": True},
    "createIntegration": {"kind": "webhook", "name": "Bench"},
    "updateIntegration": {"enabled": True},
}


def seed(database_url: str, organization_id: uuid.UUID) -> dict[str, str]:
    """One of each addressable resource in the bench organization; ids and credentials by placeholder."""
    token = secrets.token_urlsafe(32)
    key = f"pk_bench_{uuid.uuid4().hex}"
    with psycopg.connect(database_url, autocommit=True) as conn:

        def one(sql: str, *params: Any) -> str:
            row = conn.execute(sql, params).fetchone()
            assert row is not None
            return str(row[0])

        org = str(organization_id)
        agent = one(
            "insert into public.agents (organization_id, name, publishable_key, allowed_origins)"
            " values (%s, 'Bench', %s, %s) returning id",
            org,
            key,
            [WIDGET_ORIGIN],
        )
        conn.execute(
            "insert into public.agent_versions (organization_id, agent_id, version, config) values (%s, %s, 1, %s)",
            (org, agent, json.dumps({"persona": "Bench", "model": "fast"})),
        )
        lead = one("insert into public.leads (organization_id) values (%s) returning id", org)
        conversation = one(
            "insert into public.conversations (organization_id, agent_id, agent_version, lead_id, channel,"
            " status, visitor_token_hash) values (%s, %s, 1, %s, 'web', 'human', %s) returning id",
            org,
            agent,
            lead,
            hashlib.sha256(token.encode()).digest(),
        )
        endpoint = one(
            "insert into public.webhook_endpoints (organization_id, url, events)"
            " values (%s, 'https://hooks.example.com/x', '{lead.qualified}') returning id",
            org,
        )
        integration = one(
            "insert into public.integrations (organization_id, kind, name) values (%s, 'webhook', 'x') returning id",
            org,
        )
    return {
        "{organization_id}": org,
        "{agent_id}": agent,
        "{conversation_id}": conversation,
        "{endpoint_id}": endpoint,
        "{integration_id}": integration,
        "publishable_key": key,
        "visitor_token": token,
    }


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


def function_cases(ids: dict[str, str]) -> list[Case]:
    """One case per HTTP function in serverless.yml (its first route), signed webhooks aside."""
    modules = {spec.name: spec.module for spec in functions()}
    cases: dict[str, Case] = {}
    for route in routes():
        if route.function in cases or route.route_key in SIGNED_WEBHOOKS:
            continue
        cases[route.function] = Case(
            name=route.function,
            module=modules[route.function],
            method=route.method,
            path=_path(route.path, route.function, ids),
            route_key=route.route_key,
            body=BODIES.get(route.function),
            auth=route.authorizer is not None,
            floor="select",
            headers=_headers(route.function, ids),
        )
    return sorted(cases.values(), key=lambda c: c.name)
