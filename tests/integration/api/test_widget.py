"""The public web widget through the real handlers: publishable key, Origin, visitor token, polling."""

from __future__ import annotations

import base64
import hashlib
import importlib
import itertools
import json
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from local_runtime.aws import sqs_client
from local_runtime.gateway.routes import functions
from tests.support.aio import use_container_loop
from tests.support.api import LambdaApi, LambdaResponse
from tests.support.lambda_events import FakeLambdaContext, http_event

pytestmark = pytest.mark.integration

HANDLERS = {spec.name: spec for spec in functions()}
ORIGIN = "https://www.imobiliaria.example"
_IPS = itertools.count(1)


def invoke(
    api: LambdaApi, method: str, path: str, *, query: str = "", ip: str | None = None, **kw: Any
) -> LambdaResponse:
    """Invoke the routed handler from a source IP (a fresh one by default: the per-IP limit is real)."""
    name, route_key = api.function_for(method, path)
    spec = HANDLERS[name]
    handler = getattr(importlib.import_module(spec.module), spec.attribute)
    event = http_event(method, path, query=query, route_key=route_key, **kw)
    event["requestContext"]["http"]["sourceIp"] = ip or f"2001:db8::{next(_IPS):x}"
    use_container_loop()
    result = handler(event, FakeLambdaContext(name))
    body = result.get("body") or ""
    if result.get("isBase64Encoded"):  # Mangum encodes application/problem+json
        body = base64.b64decode(body).decode()
    return LambdaResponse(result["statusCode"], {k.lower(): v for k, v in (result.get("headers") or {}).items()}, body)


@pytest.fixture
def agent(make_org: Callable[[], dict[str, Any]], database_url: str) -> dict[str, Any]:
    """An active agent whose widget may run on ORIGIN: {"id", "organization_id", "key"}."""
    org_id = make_org()["id"]
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "insert into public.agents (organization_id, name, allowed_origins) values (%s, 'Sofia', %s)"
            " returning id, publishable_key",
            (org_id, [ORIGIN, "http://localhost:3001"]),
        ).fetchone()
        assert row is not None
        conn.execute(
            "insert into public.agent_versions (organization_id, agent_id, version, config) values (%s, %s, 1, %s)",
            (org_id, row[0], Jsonb({"model": "fast"})),
        )
    return {"id": row[0], "organization_id": org_id, "key": row[1]}


def widget_headers(agent: dict[str, Any], origin: str | None = ORIGIN) -> dict[str, str]:
    headers = {"X-Publishable-Key": agent["key"]}
    if origin is not None:
        headers["Origin"] = origin
    return headers


@pytest.fixture
def started(api: LambdaApi, agent: dict[str, Any]) -> dict[str, Any]:
    """A widget conversation with a first message: {"conversation_id", "visitor_token", ...}."""
    body = {"visitor": {"name": "Bia"}, "message": "Oi, vi o anúncio"}
    response = invoke(api, "POST", "/widget/conversations", headers=widget_headers(agent), body=body)
    assert response.status == 201, response.body
    return dict(response.json())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_widget_starts_a_web_conversation_and_gets_a_token_once(
    started: dict[str, Any], agent: dict[str, Any], database_url: str
) -> None:
    # given a conversation started from an allowed origin (fixture)
    token = started["visitor_token"]
    # then it is a web conversation on the agent, with its first message queued
    assert token.startswith("vt_")
    assert started["status"] == "bot"
    assert started["first_message"]["status"] == "queued"
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "select agent_id, channel::text, visitor_token_hash from public.conversations where id = %s",
            (started["conversation_id"],),
        ).fetchone()
        dumped = conn.execute(
            "select count(*) from public.idempotency_keys where response_body::text like %s", (f"%{token}%",)
        ).fetchone()
    # and only the token's SHA-256 is stored, never the token
    assert row is not None
    assert (row[0], row[1]) == (agent["id"], "web")
    assert bytes(row[2]) == hashlib.sha256(token.encode()).digest()
    assert dumped == (0,)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"X-Publishable-Key": "pk_nope", "Origin": ORIGIN}, 401),
        ({"Origin": ORIGIN}, 401),
    ],
)
def test_an_unknown_publishable_key_is_refused(api: LambdaApi, headers: dict[str, str], status: int) -> None:
    # given a missing or unknown key / when a conversation is started / then 401 problem+json
    response = invoke(api, "POST", "/widget/conversations", headers=headers, body={})
    assert response.status == status, response.body
    assert response.content_type == "application/problem+json"


@pytest.mark.parametrize("origin", ["https://evil.example", "https://www.imobiliaria.example.evil", None])
def test_an_origin_outside_the_allow_list_is_forbidden(
    api: LambdaApi, agent: dict[str, Any], origin: str | None
) -> None:
    # given the agent's real key from an origin it does not allow (or none)
    response = invoke(api, "POST", "/widget/conversations", headers=widget_headers(agent, origin), body={})
    # then 403 problem+json
    assert response.status == 403, response.body
    assert response.content_type == "application/problem+json"


def test_an_archived_agents_widget_starts_nothing(api: LambdaApi, agent: dict[str, Any], database_url: str) -> None:
    # given an archived agent / when its widget starts a conversation / then 409
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("update public.agents set status = 'archived' where id = %s", (agent["id"],))
    response = invoke(api, "POST", "/widget/conversations", headers=widget_headers(agent), body={})
    assert response.status == 409, response.body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"visitor": {"email": "nope"}}, "body.visitor.email"),
        ({"visitor": {"phone": "12"}}, "body.visitor.phone"),
        ({"message": ""}, "body.message"),
        ({"agent_id": str(uuid.uuid4())}, "body.agent_id"),
    ],
)
def test_bad_widget_input_names_the_field(api: LambdaApi, agent: dict[str, Any], body: Any, field: str) -> None:
    # given one bad field / when the widget starts a conversation / then 422 naming it
    response = invoke(api, "POST", "/widget/conversations", headers=widget_headers(agent), body=body)
    assert response.status == 422, response.body
    assert [e["field"] for e in response.json()["errors"]] == [field]


@pytest.mark.parametrize("header", ["Authorization", "X-Visitor-Token"])
def test_the_visitor_posts_with_its_token(
    api: LambdaApi, started: dict[str, Any], aws: Any, database_url: str, header: str
) -> None:
    # given the visitor's token, as a bearer token or in X-Visitor-Token
    token = started["visitor_token"]
    headers = bearer(token) if header == "Authorization" else {"X-Visitor-Token": token}
    path = f"/widget/conversations/{started['conversation_id']}/messages"
    # when the visitor writes
    response = invoke(api, "POST", path, headers=headers, body={"content": "Qual o valor?"})
    # then 202, stored as a lead message, and its turn is queued in the conversation's group
    assert response.status == 202, response.body
    assert response.json()["status"] == "queued"
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "select role::text, status::text from public.messages where id = %s", (response.json()["id"],)
        )
        assert row.fetchone() == ("lead", "queued")
    sqs, url = sqs_client(aws.endpoint), aws.queues["TurnQueue"].url
    bodies = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages"):
        for m in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            if m["Attributes"]["MessageGroupId"] == started["conversation_id"]:
                bodies.append(json.loads(m["Body"])["message_id"])
    assert response.json()["id"] in bodies


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_wrong_visitor_token_is_unauthorized(
    api: LambdaApi, started: dict[str, Any], agent: dict[str, Any], method: str
) -> None:
    # given another conversation's token, a made-up token, and none
    other = invoke(api, "POST", "/widget/conversations", headers=widget_headers(agent), body={}).json()
    path = f"/widget/conversations/{started['conversation_id']}" + ("/messages" if method == "POST" else "")
    body = {"content": "Oi"} if method == "POST" else None
    for headers in (bearer(other["visitor_token"]), bearer("vt_" + "x" * 43), {}, {"Authorization": "Basic abc"}):
        # when each is presented / then 401 problem+json
        response = invoke(api, method, path, headers=headers, body=body)
        assert response.status == 401, (headers, response.body)
        assert response.content_type == "application/problem+json"


def test_an_unknown_conversation_looks_like_a_wrong_token(api: LambdaApi, started: dict[str, Any]) -> None:
    # given a valid token for one conversation / when it addresses an id that does not exist / then 401
    response = invoke(api, "GET", f"/widget/conversations/{uuid.uuid4()}", headers=bearer(started["visitor_token"]))
    assert response.status == 401, response.body


def test_the_visitor_polls_its_conversation_without_internal_fields(
    api: LambdaApi, started: dict[str, Any], database_url: str
) -> None:
    # given a conversation with the visitor's message, an assistant reply and a system note
    conversation_id, headers = started["conversation_id"], bearer(started["visitor_token"])
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "insert into public.messages (organization_id, conversation_id, role, content, model, cost_usd)"
            " select organization_id, id, 'assistant', 'Olá, Bia!', 'gpt-x', 0.001 from public.conversations"
            " where id = %s",
            (conversation_id,),
        )
        conn.execute(
            "insert into public.messages (organization_id, conversation_id, role, content)"
            " select organization_id, id, 'system', 'internal note' from public.conversations where id = %s",
            (conversation_id,),
        )
    # when the widget reads one message at a time
    first = invoke(api, "GET", f"/widget/conversations/{conversation_id}", headers=headers, query="limit=1")
    assert first.status == 200, first.body
    page = first.json()
    second = invoke(
        api, "GET", f"/widget/conversations/{conversation_id}", headers=headers, query=f"cursor={page['next_cursor']}"
    ).json()
    # then it sees the lead and assistant messages only, oldest first, with no cost, model or error
    messages = page["messages"] + second["messages"]
    assert [(m["role"], m["content"]) for m in messages] == [("lead", "Oi, vi o anúncio"), ("assistant", "Olá, Bia!")]
    assert set(messages[0]) == {"id", "role", "content", "content_type", "created_at"}
    assert second["next_cursor"] is None
    # and polling from the last poll cursor returns nothing new until something arrives
    poll = invoke(
        api, "GET", f"/widget/conversations/{conversation_id}", headers=headers, query=f"cursor={second['poll_cursor']}"
    ).json()
    assert (poll["messages"], poll["poll_cursor"]) == ([], second["poll_cursor"])


def test_a_widget_conversation_is_closed_to_new_messages_once_closed(
    api: LambdaApi, started: dict[str, Any], database_url: str
) -> None:
    # given a closed widget conversation / when the visitor writes / then 409
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("update public.conversations set status = 'closed' where id = %s", (started["conversation_id"],))
    path = f"/widget/conversations/{started['conversation_id']}/messages"
    response = invoke(api, "POST", path, headers=bearer(started["visitor_token"]), body={"content": "Oi?"})
    assert response.status == 409, response.body
