"""Rate limits through the real handlers, on the test Redis behind the Upstash bridge."""

from __future__ import annotations

import base64
import hashlib
import importlib
import itertools
import uuid
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from local_runtime.gateway.routes import functions
from tests.support.aio import run, use_container_loop
from tests.support.api import LambdaApi, LambdaResponse
from tests.support.lambda_events import FakeLambdaContext, http_event

pytestmark = pytest.mark.integration

HANDLERS = {spec.name: spec for spec in functions()}
_IPS = itertools.count(1)


def invoke(api: LambdaApi, method: str, path: str, *, ip: str, **kw: Any) -> LambdaResponse:
    """Invoke the routed handler as API Gateway would for a client at ``ip``."""
    name, route_key = api.function_for(method, path)
    spec = HANDLERS[name]
    event = http_event(method, path, route_key=route_key, **kw)
    event["requestContext"]["http"]["sourceIp"] = ip
    use_container_loop()
    result = getattr(importlib.import_module(spec.module), spec.attribute)(event, FakeLambdaContext(name))
    body = result.get("body") or ""
    if result.get("isBase64Encoded"):  # Mangum encodes application/problem+json
        body = base64.b64decode(body).decode()
    return LambdaResponse(result["statusCode"], {k.lower(): v for k, v in (result.get("headers") or {}).items()}, body)


def fresh_ip() -> str:
    return f"2001:db8:2::{next(_IPS):x}"


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Lower the per-minute limits for one test (settings are cached per container)."""
    from shared.settings import get_settings

    def _set(*, ip: int | None = None, org: int | None = None) -> None:
        if ip is not None:
            monkeypatch.setenv("RATE_LIMIT_IP_PER_MINUTE", str(ip))
        if org is not None:
            monkeypatch.setenv("RATE_LIMIT_ORG_PER_MINUTE", str(org))
        get_settings.cache_clear()

    yield _set
    get_settings.cache_clear()  # before monkeypatch restores the environment, so the next read sees it


def test_the_widget_is_limited_per_ip(api: LambdaApi, limits: Callable[..., None]) -> None:
    # given at most 3 widget requests a minute per IP
    limits(ip=3)
    ip, headers = fresh_ip(), {"X-Publishable-Key": "pk_unknown", "Origin": "https://x.example"}
    # when one client sends 4 (each refused for its key, but counted first)
    statuses = [invoke(api, "POST", "/widget/conversations", ip=ip, headers=headers, body={}).status for _ in range(3)]
    limited = invoke(api, "POST", "/widget/conversations", ip=ip, headers=headers, body={})
    # then the 4th is 429 problem+json with a Retry-After within the window
    assert statuses == [401, 401, 401]
    assert limited.status == 429, limited.body
    assert limited.content_type == "application/problem+json"
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    # and every widget endpoint shares the IP's budget, while another IP is unaffected
    path = f"/widget/conversations/{uuid.uuid4()}"
    assert invoke(api, "GET", path, ip=ip).status == 429
    assert invoke(api, "GET", path, ip=fresh_ip()).status == 401


def test_a_refused_ip_is_answered_from_the_container_cache(
    api: LambdaApi, limits: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared import ratelimit
    from shared.clients.redis import get_redis

    # given an IP just refused
    limits(ip=1)
    ip = fresh_ip()
    path = f"/widget/conversations/{uuid.uuid4()}"
    assert invoke(api, "GET", path, ip=ip).status == 401
    assert invoke(api, "GET", path, ip=ip).status == 429
    reset = ratelimit._blocked[f"{ratelimit.PREFIX}:ip:{ip}"]
    # when its Redis counters vanish (another region, a flush)
    redis = run(get_redis())
    keys = run(redis.keys(f"{ratelimit.PREFIX}:ip:{ip}:*"))
    assert keys
    run(redis.delete(*keys))
    # then this warm container still refuses it until the window resets, without asking Redis
    # (the container's clock is pinned: a refusal in a window's last moments would otherwise reset mid-test)
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: reset - 0.001))
    assert invoke(api, "GET", path, ip=ip).status == 429
    # and once the window has reset, Redis decides again (its counters are gone: the request goes through)
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: reset + 0.001))
    assert invoke(api, "GET", path, ip=ip).status == 401


def test_authenticated_writes_are_limited_per_organization(
    api: LambdaApi,
    make_org: Callable[[], dict[str, Any]],
    make_agent: Callable[..., str],
    limits: Callable[..., None],
) -> None:
    # given two organizations, each with an agent, and at most 2 writes a minute per organization
    orgs = [make_org(), make_org()]
    agents = [make_agent(org["id"]) for org in orgs]
    limits(org=2)
    first, second = orgs

    def start(org: dict[str, Any], agent: str, member: str) -> LambdaResponse:
        path = f"/organizations/{org['id']}/conversations"
        return invoke(api, "POST", path, ip=fresh_ip(), token=org[member].token, body={"agent_id": agent})

    # when three members of the first organization write, from different IPs
    statuses = [start(first, agents[0], member).status for member in ("owner", "admin")]
    limited = start(first, agents[0], "editor")
    # then the third is 429 with Retry-After, and the other organization is unaffected
    assert statuses == [201, 201]
    assert limited.status == 429, limited.body
    assert int(limited.headers["retry-after"]) >= 1
    assert start(second, agents[1], "editor").status == 201


def test_a_stranger_cannot_spend_another_organizations_budget(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], limits: Callable[..., None]
) -> None:
    # given an organization limited to 1 write a minute, and a member of another organization
    victim, stranger = make_org(), make_org()["owner"]
    limits(org=1)
    path = f"/organizations/{victim['id']}/conversations"
    # when the stranger posts to it repeatedly / then 404 every time (membership is checked first)
    for _ in range(3):
        response = invoke(api, "POST", path, ip=fresh_ip(), token=stranger.token, body={"agent_id": str(uuid.uuid4())})
        assert response.status == 404, response.body
    # and the organization's own budget is intact (422: the agent does not exist, not 429)
    own = invoke(api, "POST", path, ip=fresh_ip(), token=victim["editor"].token, body={"agent_id": str(uuid.uuid4())})
    assert own.status == 422, own.body


def _web_conversation(organization_id: object, database_url: str) -> tuple[str, str]:
    """A web conversation and the visitor token that unlocks it."""
    token = f"vt_{uuid.uuid4().hex}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        agent = conn.execute(
            "insert into public.agents (organization_id, name) values (%s, 'W') returning id", (organization_id,)
        ).fetchone()
        lead = conn.execute(
            "insert into public.leads (organization_id) values (%s) returning id", (organization_id,)
        ).fetchone()
        assert agent is not None
        assert lead is not None
        conn.execute(
            "insert into public.agent_versions (organization_id, agent_id, version, config) values (%s, %s, 1, %s)",
            (organization_id, agent[0], Jsonb({})),
        )
        row = conn.execute(
            "insert into public.conversations (organization_id, agent_id, agent_version, lead_id, channel,"
            " visitor_token_hash) values (%s, %s, 1, %s, 'web', %s) returning id",
            (organization_id, agent[0], lead[0], hashlib.sha256(token.encode()).digest()),
        ).fetchone()
        assert row is not None
    return token, str(row[0])


def test_a_visitor_over_the_limit_gets_the_429_not_the_conversation(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], database_url: str, limits: Callable[..., None]
) -> None:
    # given a web conversation its visitor polls with a valid token, at most 2 widget requests a minute per IP
    token, conversation = _web_conversation(make_org()["id"], database_url)
    limits(ip=2)
    ip, path, headers = fresh_ip(), f"/widget/conversations/{conversation}", {"X-Visitor-Token": token}
    # when the visitor polls three times (the count runs alongside the read)
    polls = [invoke(api, "GET", path, ip=ip, headers=headers) for _ in range(3)]
    # then the third is the 429 alone: what the read found is not answered
    assert [p.status for p in polls] == [200, 200, 429], polls[2].body
    assert polls[0].json()["id"] == conversation
    assert polls[2].content_type == "application/problem+json"
    assert conversation not in polls[2].body
    assert 1 <= int(polls[2].headers["retry-after"]) <= 60
