"""Idempotency-Key on the POSTs that create or act: replay, mismatch, in flight, scope and expiry."""

from __future__ import annotations

import base64
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
ORIGIN = "https://loja.example"
_IPS = itertools.count(1)


def invoke(
    api: LambdaApi, method: str, path: str, *, key: str | None = None, ip: str | None = None, **kw: Any
) -> LambdaResponse:
    """Invoke the routed handler with an Idempotency-Key, from ``ip`` (a fresh source IP by default)."""
    name, route_key = api.function_for(method, path)
    spec = HANDLERS[name]
    headers = {**kw.pop("headers", {}), **({"Idempotency-Key": key} if key else {})}
    event = http_event(method, path, route_key=route_key, headers=headers, **kw)
    event["requestContext"]["http"]["sourceIp"] = ip or f"2001:db8:1::{next(_IPS):x}"
    use_container_loop()
    result = getattr(importlib.import_module(spec.module), spec.attribute)(event, FakeLambdaContext(name))
    body = result.get("body") or ""
    if result.get("isBase64Encoded"):  # Mangum encodes application/problem+json
        body = base64.b64decode(body).decode()
    return LambdaResponse(result["statusCode"], {k.lower(): v for k, v in (result.get("headers") or {}).items()}, body)


@pytest.fixture
def org(make_org: Callable[[], dict[str, Any]], database_url: str) -> dict[str, Any]:
    """An organization with a member per role and an agent its widget may use from ORIGIN."""
    created = make_org()
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "insert into public.agents (organization_id, name, allowed_origins) values (%s, 'Sofia', %s)"
            " returning id, publishable_key",
            (created["id"], [ORIGIN]),
        ).fetchone()
        assert row is not None
        conn.execute(
            "insert into public.agent_versions (organization_id, agent_id, version, config) values (%s, %s, 1, %s)",
            (created["id"], row[0], Jsonb({})),
        )
    return {**created, "agent": str(row[0]), "publishable_key": row[1]}


@pytest.fixture
def conversation(api: LambdaApi, org: dict[str, Any]) -> str:
    response = invoke(
        api,
        "POST",
        f"/organizations/{org['id']}/conversations",
        token=org["editor"].token,
        body={"agent_id": org["agent"]},
    )
    assert response.status == 201, response.body
    return str(response.json()["id"])


def count(database_url: str, sql: str, *params: Any) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(sql, params).fetchone()
    assert row is not None
    return int(row[0])


def turns_for(aws: Any, conversation_id: str) -> list[str]:
    """Drain the turn queue; the message ids queued for ``conversation_id``."""
    sqs, url = sqs_client(aws.endpoint), aws.queues["TurnQueue"].url
    found: list[str] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages"):
        for m in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            if m["Attributes"]["MessageGroupId"] == conversation_id:
                found.append(json.loads(m["Body"])["message_id"])
    return found


def test_a_repeated_post_returns_the_first_response_and_queues_once(
    api: LambdaApi, org: dict[str, Any], conversation: str, aws: Any, database_url: str
) -> None:
    # given a message posted with an Idempotency-Key
    turns_for(aws, conversation)
    path, key = f"/conversations/{conversation}/messages", str(uuid.uuid4())
    first = invoke(api, "POST", path, token=org["editor"].token, body={"content": "Oi"}, key=key)
    # when the client retries the same request (JSON spaced and ordered differently)
    again = invoke(api, "POST", path, token=org["editor"].token, raw_body='{ "content" :  "Oi" }', key=key)
    # then the first response comes back, marked as a replay, and nothing new is stored or queued
    assert (first.status, again.status) == (202, 202), again.body
    assert again.json() == first.json() == {"id": first.json()["id"], "status": "queued"}
    assert again.headers.get("idempotent-replayed") == "true"
    sql = "select count(*) from public.messages where conversation_id = %s and role = 'lead'"
    assert count(database_url, sql, conversation) == 1
    assert turns_for(aws, conversation) == [first.json()["id"]]


def test_the_same_key_with_another_body_is_refused(api: LambdaApi, org: dict[str, Any], conversation: str) -> None:
    # given a key already used for one message
    path, key = f"/conversations/{conversation}/messages", str(uuid.uuid4())
    assert invoke(api, "POST", path, token=org["editor"].token, body={"content": "Oi"}, key=key).status == 202
    # when it comes with a different body, or on another endpoint
    other_body = invoke(api, "POST", path, token=org["editor"].token, body={"content": "Tchau"}, key=key)
    other_path = invoke(api, "POST", f"/conversations/{conversation}/close", token=org["editor"].token, key=key)
    # then 422 naming the header
    for response in (other_body, other_path):
        assert response.status == 422, response.body
        assert [e["field"] for e in response.json()["errors"]] == ["header.Idempotency-Key"]


def test_a_duplicate_while_the_first_is_in_flight_conflicts(
    api: LambdaApi, org: dict[str, Any], conversation: str, database_url: str
) -> None:
    # given the first request with this key still running (its transaction holds the key's lock)
    key, editor = str(uuid.uuid4()), org["editor"]
    with psycopg.connect(database_url) as held:
        held.execute("select pg_advisory_xact_lock(hashtextextended(%s, 7220017))", (f"user:{editor.user_id} {key}",))
        # when the duplicate arrives
        response = invoke(api, "POST", f"/conversations/{conversation}/takeover", token=editor.token, key=key)
        held.rollback()
    # then 409, and the duplicate changed nothing
    assert response.status == 409, response.body
    assert (
        count(database_url, "select count(*) from public.conversations where id = %s and status = 'bot'", conversation)
        == 1
    )


def test_a_replayed_transition_does_not_conflict_with_its_own_result(
    api: LambdaApi, org: dict[str, Any], conversation: str
) -> None:
    # given a takeover done with a key
    path, key = f"/conversations/{conversation}/takeover", str(uuid.uuid4())
    first = invoke(api, "POST", path, token=org["editor"].token, key=key)
    # when it is retried with the key (without one it would be a 409: already human)
    again = invoke(api, "POST", path, token=org["editor"].token, key=key)
    # then the first answer is returned
    assert (first.status, again.status) == (200, 200), again.body
    assert again.json() == first.json()
    assert invoke(api, "POST", path, token=org["editor"].token).status == 409


def test_a_repeated_start_creates_one_conversation(api: LambdaApi, org: dict[str, Any], database_url: str) -> None:
    # given a start with a key and a first message
    path, key = f"/organizations/{org['id']}/conversations", str(uuid.uuid4())
    body = {"agent_id": org["agent"], "lead": {"email": "rui@example.com"}, "message": "Oi"}
    first = invoke(api, "POST", path, token=org["editor"].token, body=body, key=key)
    # when it is retried / then the same 201 body, and one conversation exists
    again = invoke(api, "POST", path, token=org["editor"].token, body=body, key=key)
    assert (first.status, again.status) == (201, 201), again.body
    assert again.json() == first.json()
    assert again.json()["first_message"]["status"] == "queued"
    assert count(database_url, "select count(*) from public.conversations where organization_id = %s", org["id"]) == 1


def test_a_repeated_agent_create_makes_one_agent(api: LambdaApi, org: dict[str, Any], database_url: str) -> None:
    # given an agent created with a key
    path, key = f"/organizations/{org['id']}/agents", str(uuid.uuid4())
    body = {"name": "Clara", "persona": "Atende a loja", "preset": "bant"}
    first = invoke(api, "POST", path, token=org["editor"].token, body=body, key=key)
    # when the same request is sent again / then the same 201 body, and one agent exists
    again = invoke(api, "POST", path, token=org["editor"].token, body=body, key=key)
    assert (first.status, again.status) == (201, 201), again.body
    assert again.json() == first.json()
    sql = "select count(*) from public.agents where organization_id = %s and name = 'Clara'"
    assert count(database_url, sql, org["id"]) == 1
    # and the same key with another body is refused, naming the header; nothing more is created
    other = invoke(api, "POST", path, token=org["editor"].token, body={**body, "name": "Outra"}, key=key)
    assert other.status == 422, other.body
    assert [e["field"] for e in other.json()["errors"]] == ["header.Idempotency-Key"]
    # and without a key, a second create makes a second agent (the key is what makes a retry safe)
    assert invoke(api, "POST", path, token=org["editor"].token, body=body).status == 201
    assert count(database_url, sql, org["id"]) == 2


def test_keys_belong_to_the_caller(api: LambdaApi, org: dict[str, Any], conversation: str, database_url: str) -> None:
    # given a key used by the editor
    path, key = f"/conversations/{conversation}/messages", str(uuid.uuid4())
    first = invoke(api, "POST", path, token=org["editor"].token, body={"content": "Oi"}, key=key)
    # when the admin sends the same key and body / then it is their own, new request
    second = invoke(api, "POST", path, token=org["admin"].token, body={"content": "Oi"}, key=key)
    assert (first.status, second.status) == (202, 202), second.body
    assert second.json()["id"] != first.json()["id"]
    assert "idempotent-replayed" not in second.headers
    # and neither can read the other's stored response
    with psycopg.connect(database_url) as conn:
        claims = json.dumps({"sub": str(org["admin"].user_id), "role": "authenticated"})
        conn.execute(
            "select set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true)", (claims,)
        )
        mine = conn.execute("select user_id from public.idempotency_keys where key = %s", (key,)).fetchall()
    assert mine == [(org["admin"].user_id,)]


def test_an_expired_key_starts_afresh(
    api: LambdaApi, org: dict[str, Any], conversation: str, database_url: str
) -> None:
    # given a key used more than 24 hours ago
    path, key = f"/conversations/{conversation}/messages", str(uuid.uuid4())
    first = invoke(api, "POST", path, token=org["editor"].token, body={"content": "Oi"}, key=key)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "update public.idempotency_keys set expires_at = now() - interval '1 second' where key = %s", (key,)
        )
    # when it is used again / then it is a new request, and the key is renewed
    again = invoke(api, "POST", path, token=org["editor"].token, body={"content": "Oi"}, key=key)
    assert again.status == 202, again.body
    assert again.json()["id"] != first.json()["id"]
    assert (
        count(database_url, "select count(*) from public.idempotency_keys where key = %s and expires_at > now()", key)
        == 1
    )


@pytest.mark.parametrize("key", ["", "x" * 256, "olá", "with space"])
def test_a_malformed_key_names_the_header(api: LambdaApi, org: dict[str, Any], conversation: str, key: str) -> None:
    # given a key that is empty, too long or not visible ASCII / then 422 naming the header
    response = invoke(
        api,
        "POST",
        f"/conversations/{conversation}/messages",
        token=org["editor"].token,
        body={"content": "Oi"},
        headers={"Idempotency-Key": key},
    )
    assert response.status == 422, response.body
    assert [e["field"] for e in response.json()["errors"]] == ["header.Idempotency-Key"]


def test_a_replayed_widget_start_reissues_the_visitor_token(
    api: LambdaApi, org: dict[str, Any], database_url: str
) -> None:
    # given a widget start with a key
    headers, key = {"X-Publishable-Key": org["publishable_key"], "Origin": ORIGIN}, str(uuid.uuid4())
    visitor = "2001:db8:2::7"
    first = invoke(api, "POST", "/widget/conversations", headers=headers, body={"message": "Oi"}, key=key, ip=visitor)
    # when the widget retries it from the same address (it never saw the first answer)
    again = invoke(api, "POST", "/widget/conversations", headers=headers, body={"message": "Oi"}, key=key, ip=visitor)
    # then the same conversation comes back with a new token, since only the first token's hash was kept
    assert (first.status, again.status) == (201, 201), again.body
    assert again.json()["conversation_id"] == first.json()["conversation_id"]
    assert again.json()["visitor_token"] != first.json()["visitor_token"]
    assert count(database_url, "select count(*) from public.conversations where organization_id = %s", org["id"]) == 1
    # and only the newest token opens the conversation
    path = f"/widget/conversations/{first.json()['conversation_id']}"
    for token, status in ((first.json()["visitor_token"], 401), (again.json()["visitor_token"], 200)):
        assert invoke(api, "GET", path, headers={"Authorization": f"Bearer {token}"}).status == status


def test_a_repeated_widget_message_is_stored_once(api: LambdaApi, org: dict[str, Any], database_url: str) -> None:
    # given a widget conversation
    headers = {"X-Publishable-Key": org["publishable_key"], "Origin": ORIGIN}
    started = invoke(api, "POST", "/widget/conversations", headers=headers, body={}).json()
    path, key = f"/widget/conversations/{started['conversation_id']}/messages", str(uuid.uuid4())
    auth = {"Authorization": f"Bearer {started['visitor_token']}"}
    # when the visitor's message is sent twice with one key
    first = invoke(api, "POST", path, headers=auth, body={"content": "Oi"}, key=key)
    again = invoke(api, "POST", path, headers=auth, body={"content": "Oi"}, key=key)
    # then one message, one answer
    assert (first.status, again.status) == (202, 202), again.body
    assert again.json() == first.json()
    sql = "select count(*) from public.messages where conversation_id = %s"
    assert count(database_url, sql, started["conversation_id"]) == 1
