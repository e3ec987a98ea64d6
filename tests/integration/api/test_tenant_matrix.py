"""The RLS matrix at the API level, over every route serverless.yml declares.

Handlers are invoked directly (as a Lambda is, bypassing API Gateway), so each must
refuse a missing or forged token itself, hide other tenants' resources (404) and
refuse writes to viewers (403). A new route must add a sample body here, or the
coverage test below fails.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from local_runtime.gateway.routes import Route, routes
from tests.support.api import LambdaApi
from tests.support.tokens import hs256_token

pytestmark = pytest.mark.integration

ROUTES = routes()
PROTECTED = [r for r in ROUTES if r.authorizer]
# An invitation is addressed to a person, not to a member: its routes answer 404 to anyone but the
# invitee (tests/integration/api/test_invitations.py).
TENANT_SCOPED = [r for r in PROTECTED if "{" in r.path and not r.path.startswith("/invitations")]
WRITES = [r for r in TENANT_SCOPED if r.method in ("POST", "PUT", "PATCH", "DELETE")]

SAMPLE_BODIES: dict[str, Any] = {
    "POST /organizations": {"name": "Matrix Org"},
    "GET /organizations": None,
    "POST /organizations/{organization_id}/members": {"email": "someone@example.com", "role": "viewer"},
    "GET /invitations": None,
    "POST /invitations/{invitation_id}/accept": None,
    "POST /organizations/{organization_id}/agents": {"name": "Matrix agent", "persona": "Matrix"},
    "GET /organizations/{organization_id}/agents": None,
    "GET /agents/{agent_id}": None,
    "PATCH /agents/{agent_id}": {"temperature": 1.0},
    "DELETE /agents/{agent_id}": None,
    "POST /organizations/{organization_id}/conversations": {"agent_id": "00000000-0000-4000-8000-000000000000"},
    "GET /organizations/{organization_id}/conversations": None,
    "GET /conversations/{conversation_id}": None,
    "POST /conversations/{conversation_id}/messages": {"content": "Oi"},
    "POST /conversations/{conversation_id}/replies": {"content": "Oi"},
    "POST /conversations/{conversation_id}/takeover": None,
    "POST /conversations/{conversation_id}/release": None,
    "POST /conversations/{conversation_id}/close": None,
    "GET /conversations/{conversation_id}/follow-ups": None,
    "POST /conversations/{conversation_id}/follow-ups": {"action": "cancel"},
    "POST /organizations/{organization_id}/webhook-endpoints": {
        "url": "https://hooks.example.com/ca",
        "events": ["lead.qualified"],
    },
    "GET /organizations/{organization_id}/webhook-endpoints": None,
    "PATCH /webhook-endpoints/{endpoint_id}": {"enabled": False},
    "POST /webhook-endpoints/{endpoint_id}/rotate-secret": None,
    "DELETE /webhook-endpoints/{endpoint_id}": None,
    "GET /webhook-endpoints/{endpoint_id}/deliveries": None,
    "POST /organizations/{organization_id}/integrations": {
        "kind": "hubspot",
        "name": "Matrix HubSpot",
        "external_id": "90210",
        "credentials": {"access_token": "pat-na1-00000000-0000-0000-0000-000000000000"},
    },
    "GET /organizations/{organization_id}/integrations": None,
    "PATCH /integrations/{integration_id}": {"enabled": False},
    "DELETE /integrations/{integration_id}": None,
    "GET /organizations/{organization_id}/analytics/funnel": None,
    "GET /organizations/{organization_id}/analytics/outcomes": None,
    "GET /organizations/{organization_id}/analytics/cost": None,
    "GET /organizations/{organization_id}/analytics/quality": None,
    "POST /agents/{agent_id}/experiments": {
        "name": "M",
        "variants": [{"version": 1, "weight": 1}, {"version": 2, "weight": 1}],
    },
    "GET /agents/{agent_id}/experiments": None,
    "GET /experiments/{experiment_id}/results": None,
    "POST /experiments/{experiment_id}/stop": {},
    "GET /organizations/{organization_id}/budgets": None,
    "PUT /organizations/{organization_id}/budgets": {"limit_usd": "10"},
    "GET /organizations/{organization_id}/usage": None,
    "POST /organizations/{organization_id}/knowledge/sources": {"kind": "text", "title": "Matrix", "content": "x"},
    "GET /organizations/{organization_id}/knowledge/sources": None,
    "GET /knowledge/sources/{source_id}": None,
    "PATCH /knowledge/sources/{source_id}": {"title": "Matrix"},
    "DELETE /knowledge/sources/{source_id}": None,
    "POST /knowledge/sources/{source_id}/reindex": None,
    "GET /agents/{agent_id}/knowledge/unanswered": None,
}
# Public on purpose: each checks its own credential (publishable key + Origin, or a visitor token).
PUBLIC = {
    "GET /health",
    "POST /widget/conversations",
    "POST /widget/conversations/{conversation_id}/messages",
    "GET /widget/conversations/{conversation_id}",
    "GET /webhooks/whatsapp",
    "POST /webhooks/whatsapp",
    "POST /webhooks/hubspot",
    "POST /webhooks/pipedrive/{integration_id}",
    "POST /webhooks/rdstation/{integration_id}",
}


def _ids(items: list[Route]) -> list[str]:
    return [r.route_key for r in items]


def _path(route: Route, organization_id: uuid.UUID, resources: dict[str, uuid.UUID] | None = None) -> str:
    path = route.path.replace("{organization_id}", str(organization_id))
    for name, value in (resources or {}).items():
        path = path.replace("{" + name + "}", str(value))
    return path


@pytest.fixture
def make_resources(database_url: str) -> Callable[[uuid.UUID], dict[str, uuid.UUID]]:
    """One row of each addressable resource in an organization: agent, conversation (human-held), endpoint, etc."""

    def _make(org: uuid.UUID) -> dict[str, uuid.UUID]:
        with psycopg.connect(database_url, autocommit=True) as conn:

            def one(sql: str, *params: Any) -> uuid.UUID:
                row = conn.execute(sql, params).fetchone()  # type: ignore[arg-type]
                assert row is not None
                return uuid.UUID(str(row[0]))

            agent = one("insert into public.agents (organization_id, name) values (%s, 'A') returning id", org)
            conn.execute(
                "insert into public.agent_versions (organization_id, agent_id, version, config) values (%s, %s, 1, %s)",
                (org, agent, '{"persona": "Matrix"}'),
            )
            lead = one("insert into public.leads (organization_id) values (%s) returning id", org)
            conversation = one(
                "insert into public.conversations (organization_id, agent_id, agent_version, lead_id, channel, status)"
                " values (%s, %s, 1, %s, 'api', 'human') returning id",
                org,
                agent,
                lead,
            )
            endpoint = one(
                "insert into public.webhook_endpoints (organization_id, url, events)"
                " values (%s, 'https://hooks.example.com/x', '{lead.qualified}') returning id",
                org,
            )
            integration = one(
                "insert into public.integrations (organization_id, kind, name)"
                " values (%s, 'hubspot', 'H') returning id",
                org,
            )
            experiment = one(
                "select (public.create_experiment(%s, 'M', 'conversion_rate', '[{\"version\": 1, \"weight\": 1}]')"
                " ->> 'id')::uuid",
                agent,
            )
            source = one(
                "insert into public.knowledge_documents (organization_id, title, content) values (%s, 'S', 'x')"
                " returning id",
                org,
            )
        return {
            "experiment_id": experiment,
            "agent_id": agent,
            "conversation_id": conversation,
            "endpoint_id": endpoint,
            "integration_id": integration,
            "source_id": source,
        }

    return _make


def test_every_protected_route_has_a_sample_body() -> None:
    # given the routes in serverless.yml / then each protected one is covered by this matrix
    assert {r.route_key for r in PROTECTED} <= set(SAMPLE_BODIES)


def test_only_the_health_and_widget_routes_are_public() -> None:
    assert {r.route_key for r in ROUTES if not r.authorizer} == PUBLIC


@pytest.mark.parametrize("route", PROTECTED, ids=_ids(PROTECTED))
def test_no_token_is_401(api: LambdaApi, route: Route) -> None:
    # given no Authorization header / when the handler is invoked directly
    response = api.call(route.method, _path(route, uuid.uuid4()), body=SAMPLE_BODIES.get(route.route_key))
    # then 401 problem+json, with a challenge
    assert response.status == 401, response.body
    assert response.content_type == "application/problem+json"
    assert response.headers.get("www-authenticate", "").startswith("Bearer")


@pytest.mark.parametrize("route", PROTECTED, ids=_ids(PROTECTED))
def test_a_token_signed_with_another_secret_is_401(api: LambdaApi, route: Route) -> None:
    # given a well-formed token signed with the wrong secret
    forged = hs256_token("x" * 48, uuid.uuid4(), "mallory@example.com")
    # when it is presented / then 401
    response = api.call(route.method, _path(route, uuid.uuid4()), token=forged, body=SAMPLE_BODIES[route.route_key])
    assert response.status == 401, response.body


@pytest.mark.parametrize("route", TENANT_SCOPED, ids=_ids(TENANT_SCOPED))
@pytest.mark.parametrize("role", ["owner", "viewer"])
def test_another_tenants_resources_are_404(
    api: LambdaApi,
    make_org: Callable[[], dict[str, Any]],
    make_resources: Callable[[uuid.UUID], dict[str, uuid.UUID]],
    route: Route,
    role: str,
) -> None:
    # given two organizations, B with an agent, a conversation and a webhook endpoint
    org_a, org_b = make_org(), make_org()
    path = _path(route, org_b["id"], make_resources(org_b["id"]))
    # when A's member addresses B's resources
    response = api.call(route.method, path, token=org_a[role].token, body=SAMPLE_BODIES[route.route_key])
    # then B's existence is not revealed
    assert response.status == 404, response.body
    assert response.content_type == "application/problem+json"


@pytest.mark.parametrize("route", TENANT_SCOPED, ids=_ids(TENANT_SCOPED))
def test_a_user_in_no_organization_gets_404(
    api: LambdaApi,
    make_org: Callable[[], dict[str, Any]],
    make_user: Callable[..., Any],
    make_resources: Callable[[uuid.UUID], dict[str, uuid.UUID]],
    route: Route,
) -> None:
    # given an organization and a signed-in stranger / when the stranger addresses it / then 404
    org, stranger = make_org(), make_user()
    path = _path(route, org["id"], make_resources(org["id"]))
    response = api.call(route.method, path, token=stranger.token, body=SAMPLE_BODIES[route.route_key])
    assert response.status == 404, response.body


@pytest.mark.parametrize("route", WRITES, ids=_ids(WRITES))
def test_viewers_cannot_write(
    api: LambdaApi,
    make_org: Callable[[], dict[str, Any]],
    make_resources: Callable[[uuid.UUID], dict[str, uuid.UUID]],
    route: Route,
) -> None:
    # given an organization with its resources / when its viewer writes through the route / then 403
    org = make_org()
    path = _path(route, org["id"], make_resources(org["id"]))
    response = api.call(route.method, path, token=org["viewer"].token, body=SAMPLE_BODIES[route.route_key])
    assert response.status == 403, response.body
    assert response.content_type == "application/problem+json"
