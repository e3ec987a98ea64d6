"""Conversations through the real Lambda handlers: start, list, read, post, and the human handover."""

from __future__ import annotations

import base64
import importlib
import json
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from local_runtime.aws import sqs_client
from local_runtime.gateway.routes import functions
from tests.support.aio import run, use_container_loop
from tests.support.api import LambdaApi, LambdaResponse
from tests.support.lambda_events import FakeLambdaContext, http_event

pytestmark = pytest.mark.integration

HANDLERS = {spec.name: spec for spec in functions()}


def invoke(api: LambdaApi, method: str, path: str, *, query: str = "", **kwargs: Any) -> LambdaResponse:
    """``api.call`` with a query string, and base64 bodies decoded as API Gateway would."""
    name, route_key = api.function_for(method, path)
    spec = HANDLERS[name]
    handler = getattr(importlib.import_module(spec.module), spec.attribute)
    event = http_event(method, path, query=query, route_key=route_key, **kwargs)
    use_container_loop()
    result = handler(event, FakeLambdaContext(name))
    headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
    body = result.get("body") or ""
    if result.get("isBase64Encoded"):  # Mangum encodes application/problem+json
        body = base64.b64decode(body).decode()
    return LambdaResponse(result["statusCode"], headers, body)


def insert_agent(database_url: str, org_id: uuid.UUID, *, status: str = "active", versions: int = 1) -> uuid.UUID:
    """An agent with ``versions`` immutable versions, the way agents CRUD would leave it."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "insert into public.agents (organization_id, name, status, current_version)"
            " values (%s, 'Sofia', %s, %s) returning id",
            (org_id, status, versions),
        ).fetchone()
        assert row is not None
        for version in range(1, versions + 1):
            conn.execute(
                "insert into public.agent_versions (organization_id, agent_id, version, config)"
                " values (%s, %s, %s, %s)",
                (org_id, row[0], version, Jsonb({"model": "fast", "persona": f"v{version}"})),
            )
    return uuid.UUID(str(row[0]))


def drain_turns(aws: Any) -> list[dict[str, Any]]:
    """Receive and delete everything on the turn queue (FIFO attributes included)."""
    sqs, url = sqs_client(aws.endpoint), aws.queues["TurnQueue"].url
    received: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages"):
        for message in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        received.extend(batch)
    return received


def turns_for(aws: Any, conversation_id: str) -> list[dict[str, Any]]:
    return [m for m in drain_turns(aws) if m["Attributes"]["MessageGroupId"] == conversation_id]


@pytest.fixture
def org(make_org: Callable[[], dict[str, Any]], database_url: str) -> dict[str, Any]:
    """An organization with a member per role and an active agent."""
    created = make_org()
    return {**created, "agent": insert_agent(database_url, created["id"])}


@pytest.fixture
def start(api: LambdaApi, org: dict[str, Any]) -> Callable[..., dict[str, Any]]:
    """Start a conversation in ``org`` as its editor and return the body."""

    def _start(**body: Any) -> dict[str, Any]:
        payload = {"agent_id": str(org["agent"]), **body}
        response = invoke(
            api, "POST", f"/organizations/{org['id']}/conversations", token=org["editor"].token, body=payload
        )
        assert response.status == 201, response.body
        return dict(response.json())

    return _start


@pytest.fixture
def queue(aws: Any) -> Any:
    drain_turns(aws)  # messages left by earlier tests are not this test's
    return aws


def rows(database_url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(sql, params).fetchall()


# --- starting ------------------------------------------------------------------------------


def test_start_pins_the_current_version_and_upserts_the_lead(
    api: LambdaApi, org: dict[str, Any], database_url: str
) -> None:
    # given an agent on version 3
    agent = insert_agent(database_url, org["id"], versions=3)
    path = f"/organizations/{org['id']}/conversations"
    lead = {"name": "Ana", "email": " Ana@Example.COM ", "phone": "(11) 98765-4321"}
    # when two conversations start with the same person, written differently, and one with only the phone
    first = invoke(api, "POST", path, token=org["editor"].token, body={"agent_id": str(agent), "lead": lead})
    again = {"agent_id": str(agent), "lead": {"email": "ana@example.com"}}
    second = invoke(api, "POST", path, token=org["admin"].token, body=again)
    by_phone = {"agent_id": str(agent), "lead": {"phone": "+55 11 98765-4321"}}
    third = invoke(api, "POST", path, token=org["owner"].token, body=by_phone)
    # then each pins version 3, and all three talk to one normalised lead
    assert first.status == second.status == third.status == 201, first.body
    body = first.json()
    assert (body["agent_version"], body["status"], body["channel"]) == (3, "bot", "api")
    assert body["lead"]["email"] == "ana@example.com"
    assert body["lead"]["phone"] == "+5511987654321"
    assert {r.json()["lead"]["id"] for r in (first, second, third)} == {body["lead"]["id"]}
    assert rows(database_url, "select count(*) from public.leads where organization_id = %s", org["id"]) == [(1,)]


def test_start_with_a_first_message_queues_its_turn(
    start: Callable[..., dict[str, Any]], queue: Any, database_url: str
) -> None:
    # given an agent / when a conversation starts with a message
    body = start(message="Oi, quero ver o apartamento")
    # then the message is stored and queued, and its turn is on the queue in the conversation's group
    assert body["first_message"]["status"] == "queued"
    message_id = body["first_message"]["id"]
    assert rows(database_url, "select role, status from public.messages where id = %s", message_id) == [
        ("lead", "queued")
    ]
    turns = turns_for(queue, body["id"])
    assert [json.loads(t["Body"]) for t in turns] == [{"type": "turn", "message_id": message_id}]


def test_an_archived_agent_starts_nothing(api: LambdaApi, org: dict[str, Any], database_url: str) -> None:
    # given an archived agent / when a conversation is started on it
    agent = insert_agent(database_url, org["id"], status="archived")
    response = invoke(
        api,
        "POST",
        f"/organizations/{org['id']}/conversations",
        token=org["editor"].token,
        body={"agent_id": str(agent)},
    )
    # then 409 problem+json
    assert response.status == 409, response.body
    assert response.content_type == "application/problem+json"


def test_another_organizations_agent_is_invalid(
    api: LambdaApi, org: dict[str, Any], make_org: Callable[[], dict[str, Any]], database_url: str
) -> None:
    # given an agent of another organization / when org's editor starts a conversation on it
    other_agent = insert_agent(database_url, make_org()["id"])
    response = invoke(
        api,
        "POST",
        f"/organizations/{org['id']}/conversations",
        token=org["editor"].token,
        body={"agent_id": str(other_agent)},
    )
    # then the body field is named
    assert response.status == 422, response.body
    assert [e["field"] for e in response.json()["errors"]] == ["body.agent_id"]


# --- posting messages --------------------------------------------------------------------------


def test_a_posted_message_is_stored_then_queued_once(
    api: LambdaApi, org: dict[str, Any], start: Callable[..., dict[str, Any]], queue: Any, database_url: str
) -> None:
    # given a conversation
    conversation = start()
    # when the customer's backend posts the lead's message
    response = invoke(
        api,
        "POST",
        f"/conversations/{conversation['id']}/messages",
        token=org["editor"].token,
        body={"content": "Olá!"},
    )
    # then 202, the row is stored as a queued lead message
    assert response.status == 202, response.body
    accepted = response.json()
    assert accepted["status"] == "queued"
    stored = rows(database_url, "select role, status, content from public.messages where id = %s", accepted["id"])
    assert stored == [("lead", "queued", "Olá!")]
    # and exactly one turn is on the FIFO queue, grouped by conversation and deduplicated by message
    turns = turns_for(queue, conversation["id"])
    assert len(turns) == 1
    assert json.loads(turns[0]["Body"]) == {"type": "turn", "message_id": accepted["id"]}
    assert turns[0]["Attributes"]["MessageDeduplicationId"] == accepted["id"]


def test_a_failed_enqueue_still_answers_202_and_the_cron_requeues(
    api: LambdaApi,
    org: dict[str, Any],
    start: Callable[..., dict[str, Any]],
    queue: Any,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shared.clients import sqs
    from shared.conversations.requeue import requeue_stalled

    # given a conversation, and SQS refusing every send
    conversation = start()

    def refuse(*_: Any) -> None:
        raise sqs.SqsError("SQS SendMessage: 503 ServiceUnavailable")

    monkeypatch.setattr(sqs, "send_message", refuse)
    # when a message is posted
    response = invoke(
        api, "POST", f"/conversations/{conversation['id']}/messages", token=org["editor"].token, body={"content": "Oi"}
    )
    # then it is accepted and stored, still "received", with nothing on the queue
    assert response.status == 202, response.body
    message_id = response.json()["id"]
    assert response.json()["status"] == "received"
    assert rows(database_url, "select status from public.messages where id = %s", message_id) == [("received",)]
    assert turns_for(queue, conversation["id"]) == []
    # when SQS is back and the requeue cron runs
    monkeypatch.undo()
    requeued = run(requeue_stalled(older_than=timedelta(0)))
    # then the turn is sent and the message marked queued
    assert requeued >= 1
    assert [json.loads(t["Body"])["message_id"] for t in turns_for(queue, conversation["id"])] == [message_id]
    assert rows(database_url, "select status from public.messages where id = %s", message_id) == [("queued",)]


def test_a_queued_message_nobody_handled_for_long_is_sent_by_the_cron(
    org: dict[str, Any], start: Callable[..., dict[str, Any]], queue: Any, database_url: str
) -> None:
    from shared.conversations.requeue import LOST_AFTER, requeue_stalled

    # given two lead messages stored queued and never handled: one long ago (its process died between the
    # commit and the enqueue), one recently (its turn may still be waiting on the queue)
    conversation = start()
    with psycopg.connect(database_url, autocommit=True) as conn:
        ids = [
            conn.execute(
                "insert into public.messages (organization_id, conversation_id, role, content, status, created_at)"
                " values (%s, %s, 'lead', 'Oi', 'queued', now() - %s) returning id",
                (org["id"], conversation["id"], age),
            ).fetchone()[0]  # type: ignore[index]
            for age in (LOST_AFTER + timedelta(minutes=1), timedelta(minutes=2))
        ]
    # when the requeue cron runs
    run(requeue_stalled())
    # then only the lost one is sent again
    assert [json.loads(t["Body"])["message_id"] for t in turns_for(queue, conversation["id"])] == [str(ids[0])]


def test_a_message_to_a_taken_over_conversation_is_stored_not_queued(
    api: LambdaApi, org: dict[str, Any], start: Callable[..., dict[str, Any]], queue: Any
) -> None:
    # given a conversation a human took over
    conversation = start()
    path = f"/conversations/{conversation['id']}"
    assert invoke(api, "POST", f"{path}/takeover", token=org["editor"].token).status == 200
    # when the lead writes
    response = invoke(api, "POST", f"{path}/messages", token=org["editor"].token, body={"content": "Alguém aí?"})
    # then it is stored for the human, and no model turn is queued
    assert response.status == 202, response.body
    assert response.json()["status"] == "received"
    assert turns_for(queue, conversation["id"]) == []


def test_a_closed_conversation_takes_no_messages(
    api: LambdaApi, org: dict[str, Any], start: Callable[..., dict[str, Any]]
) -> None:
    # given a closed conversation / when a message is posted / then 409
    conversation = start()
    assert invoke(api, "POST", f"/conversations/{conversation['id']}/close", token=org["editor"].token).status == 200
    response = invoke(
        api, "POST", f"/conversations/{conversation['id']}/messages", token=org["editor"].token, body={"content": "Oi"}
    )
    assert response.status == 409, response.body
    assert response.content_type == "application/problem+json"


# --- the human handover ----------------------------------------------------------------------


def test_takeover_reply_release_close(
    api: LambdaApi, org: dict[str, Any], start: Callable[..., dict[str, Any]], queue: Any, database_url: str
) -> None:
    # given a bot conversation whose first message is queued
    conversation = start(message="Quero falar com um corretor")
    path, editor = f"/conversations/{conversation['id']}", org["editor"]
    drain_turns(queue)
    # when the editor replies before taking over / then 409
    assert invoke(api, "POST", f"{path}/replies", token=editor.token, body={"content": "Oi"}).status == 409
    # when they take over / then it is theirs, and a second takeover conflicts
    taken = invoke(api, "POST", f"{path}/takeover", token=editor.token)
    assert taken.status == 200, taken.body
    assert (taken.json()["status"], taken.json()["assigned_to"]) == ("human", str(editor.user_id))
    assert invoke(api, "POST", f"{path}/takeover", token=org["admin"].token).status == 409
    # when they reply / then a human message from them, sent (api channel), answering the lead's message
    reply = invoke(api, "POST", f"{path}/replies", token=editor.token, body={"content": "Sou a Ana, corretora"})
    assert reply.status == 201, reply.body
    assert (reply.json()["role"], reply.json()["author_id"], reply.json()["status"]) == (
        "human",
        str(editor.user_id),
        "sent",
    )
    first = conversation["first_message"]["id"]
    assert rows(database_url, "select handled_at is not null from public.messages where id = %s", first) == [(True,)]
    # when the lead writes again and the editor hands back to the bot
    later = invoke(api, "POST", f"{path}/messages", token=editor.token, body={"content": "E o preço?"}).json()
    released = invoke(api, "POST", f"{path}/release", token=editor.token)
    # then the bot has it, unassigned, and the lead's unanswered message is queued for it
    assert released.status == 200, released.body
    assert (released.json()["status"], released.json()["assigned_to"]) == ("bot", None)
    assert [json.loads(t["Body"])["message_id"] for t in turns_for(queue, conversation["id"])] == [later["id"]]
    assert invoke(api, "POST", f"{path}/release", token=editor.token).status == 409
    # when it is closed / then closed_at is set and nothing else applies
    closed = invoke(api, "POST", f"{path}/close", token=editor.token)
    assert closed.status == 200, closed.body
    assert closed.json()["status"] == "closed"
    assert closed.json()["closed_at"] is not None
    for action in ("close", "takeover", "release"):
        assert invoke(api, "POST", f"{path}/{action}", token=editor.token).status == 409, action
    # and the timeline recorded every step
    events = rows(
        database_url,
        "select type from public.lead_events where conversation_id = %s order by created_at, type",
        conversation["id"],
    )
    assert [e[0] for e in events] == [
        "conversation.started",
        "conversation.taken_over",
        "conversation.released",
        "conversation.closed",
    ]
    system = rows(
        database_url,
        "select content from public.messages where conversation_id = %s and role = 'system' order by created_at",
        conversation["id"],
    )
    assert [s[0] for s in system] == ["taken_over", "released", "closed"]


def test_a_human_reply_on_whatsapp_waits_queued_for_delivery(
    api: LambdaApi, org: dict[str, Any], start: Callable[..., dict[str, Any]], database_url: str
) -> None:
    # given a WhatsApp conversation a human took over
    conversation = start()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("update public.conversations set channel = 'whatsapp' where id = %s", (conversation["id"],))
    path = f"/conversations/{conversation['id']}"
    assert invoke(api, "POST", f"{path}/takeover", token=org["editor"].token).status == 200
    # when the human replies / then the message waits, queued, for the WhatsApp sender
    reply = invoke(api, "POST", f"{path}/replies", token=org["editor"].token, body={"content": "Oi!"})
    assert reply.status == 201, reply.body
    assert reply.json()["status"] == "queued"


# --- tenancy and roles -------------------------------------------------------------------------

CONVERSATION_ROUTES = [
    ("GET", "", None),
    ("POST", "/messages", {"content": "Oi"}),
    ("POST", "/takeover", None),
    ("POST", "/replies", {"content": "Oi"}),
    ("POST", "/release", None),
    ("POST", "/close", None),
]


@pytest.mark.parametrize(("method", "suffix", "body"), CONVERSATION_ROUTES)
@pytest.mark.parametrize("role", ["owner", "viewer"])
def test_another_tenants_conversation_is_not_found(
    api: LambdaApi,
    make_org: Callable[[], dict[str, Any]],
    start: Callable[..., dict[str, Any]],
    method: str,
    suffix: str,
    body: Any,
    role: str,
) -> None:
    # given a conversation in one organization and a member of another
    conversation, stranger = start(), make_org()[role]
    # when the stranger addresses it / then its existence is not revealed
    response = invoke(api, method, f"/conversations/{conversation['id']}{suffix}", token=stranger.token, body=body)
    assert response.status == 404, response.body
    assert response.content_type == "application/problem+json"


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_another_tenants_organization_is_not_found(
    api: LambdaApi, org: dict[str, Any], make_org: Callable[[], dict[str, Any]], method: str
) -> None:
    # given a member of another organization / when they list or start conversations in org / then 404
    stranger = make_org()["owner"]
    body = {"agent_id": str(org["agent"])} if method == "POST" else None
    response = invoke(api, method, f"/organizations/{org['id']}/conversations", token=stranger.token, body=body)
    assert response.status == 404, response.body


@pytest.mark.parametrize(("method", "suffix", "body"), [r for r in CONVERSATION_ROUTES if r[0] == "POST"])
def test_viewers_cannot_write(
    api: LambdaApi, org: dict[str, Any], start: Callable[..., dict[str, Any]], method: str, suffix: str, body: Any
) -> None:
    # given a conversation / when the organization's viewer writes to it / then 403
    conversation = start()
    response = invoke(api, method, f"/conversations/{conversation['id']}{suffix}", token=org["viewer"].token, body=body)
    assert response.status == 403, response.body
    assert response.content_type == "application/problem+json"


def test_viewers_cannot_start_but_can_read(
    api: LambdaApi, org: dict[str, Any], start: Callable[..., dict[str, Any]]
) -> None:
    # given a conversation
    conversation = start()
    path = f"/organizations/{org['id']}/conversations"
    # when the viewer starts one / then 403; when they read / then 200
    refused = invoke(api, "POST", path, token=org["viewer"].token, body={"agent_id": str(org["agent"])})
    assert refused.status == 403, refused.body
    assert invoke(api, "GET", path, token=org["viewer"].token).status == 200
    assert invoke(api, "GET", f"/conversations/{conversation['id']}", token=org["viewer"].token).status == 200


# --- bad input ---------------------------------------------------------------------------------

START_CASES = [
    ({"agent_id": "nope"}, "body.agent_id"),
    ({}, "body.agent_id"),
    ({"lead": {"email": "not-an-email"}}, "body.lead.email"),
    ({"lead": {"phone": "123"}}, "body.lead.phone"),
    ({"lead": {"name": "   "}}, "body.lead.name"),
    ({"lead": {"nickname": "x"}}, "body.lead.nickname"),
    ({"channel": "fax"}, "body.channel"),
    ({"message": "   "}, "body.message"),
    ({"message": "x" * 4097}, "body.message"),
    ({"surprise": 1}, "body.surprise"),
]


@pytest.mark.parametrize(("patch", "field"), START_CASES)
def test_bad_start_input_names_the_field(
    api: LambdaApi, org: dict[str, Any], patch: dict[str, Any], field: str
) -> None:
    # given a start body with one bad field
    body = {"agent_id": str(org["agent"]), **patch}
    if patch == {}:
        body.pop("agent_id")
    # when it is posted / then 422 problem+json naming exactly that field
    response = invoke(api, "POST", f"/organizations/{org['id']}/conversations", token=org["editor"].token, body=body)
    assert response.status == 422, response.body
    assert response.content_type == "application/problem+json"
    assert field in [e["field"] for e in response.json()["errors"]]


@pytest.mark.parametrize(
    ("method", "suffix", "query", "body", "field"),
    [
        ("POST", "/messages", "", {}, "body.content"),
        ("POST", "/messages", "", {"content": ""}, "body.content"),
        ("POST", "/messages", "", {"content": "x" * 4097}, "body.content"),
        ("POST", "/messages", "", {"content": "Oi", "role": "assistant"}, "body.role"),
        ("POST", "/replies", "", {"content": " "}, "body.content"),
        ("GET", "", "messages_limit=0", None, "query.messages_limit"),
        ("GET", "", "messages_limit=101", None, "query.messages_limit"),
        ("GET", "", "messages_cursor=garbage", None, "query.messages_cursor"),
    ],
)
def test_bad_conversation_input_names_the_field(
    api: LambdaApi,
    org: dict[str, Any],
    start: Callable[..., dict[str, Any]],
    method: str,
    suffix: str,
    query: str,
    body: Any,
    field: str,
) -> None:
    # given a conversation / when a request with one bad field is sent / then 422 naming it
    conversation = start()
    path = f"/conversations/{conversation['id']}{suffix}"
    response = invoke(api, method, path, token=org["editor"].token, body=body, query=query)
    assert response.status == 422, response.body
    assert field in [e["field"] for e in response.json()["errors"]]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "query.limit"),
        ("status=open", "query.status"),
        ("agent_id=x", "query.agent_id"),
        ("cursor=%%", "query.cursor"),
    ],
)
def test_bad_list_queries_name_the_field(api: LambdaApi, org: dict[str, Any], query: str, field: str) -> None:
    # given a bad query parameter / when conversations are listed / then 422 naming it
    response = invoke(api, "GET", f"/organizations/{org['id']}/conversations", token=org["viewer"].token, query=query)
    assert response.status == 422, response.body
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_a_malformed_conversation_id_is_named(api: LambdaApi, org: dict[str, Any]) -> None:
    # given a path that is not a uuid / then 422 naming the path parameter
    response = invoke(api, "POST", "/conversations/not-a-uuid/takeover", token=org["editor"].token)
    assert response.status == 422, response.body
    assert [e["field"] for e in response.json()["errors"]] == ["path.conversation_id"]


# --- reading -----------------------------------------------------------------------------------


def test_listing_pages_newest_first_and_filters(
    api: LambdaApi, org: dict[str, Any], start: Callable[..., dict[str, Any]], database_url: str
) -> None:
    # given five conversations, one of them on a second agent and one taken over
    other_agent = insert_agent(database_url, org["id"])
    started = [start()["id"] for _ in range(4)]
    started.append(start(agent_id=str(other_agent))["id"])
    invoke(api, "POST", f"/conversations/{started[0]}/takeover", token=org["editor"].token)
    path, token = f"/organizations/{org['id']}/conversations", org["viewer"].token
    # when they are listed two at a time, following next_cursor
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        query = "limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = invoke(api, "GET", path, token=token, query=query).json()
        seen += [c["id"] for c in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    # then every conversation appears once, newest first, and the last page says so
    assert seen == list(reversed(started))
    # and the filters narrow the list
    human = invoke(api, "GET", path, token=token, query="status=human").json()["data"]
    assert [c["id"] for c in human] == [started[0]]
    by_agent = invoke(api, "GET", path, token=token, query=f"agent_id={other_agent}").json()["data"]
    assert [c["id"] for c in by_agent] == [started[4]]


def test_an_organization_without_conversations_lists_none(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]]
) -> None:
    # given a new organization / when its viewer lists / then an empty page, not a 404
    org = make_org()
    response = invoke(api, "GET", f"/organizations/{org['id']}/conversations", token=org["viewer"].token)
    assert response.status == 200, response.body
    assert response.json() == {"data": [], "next_cursor": None}


def test_a_conversation_reads_with_its_messages_in_pages(
    api: LambdaApi, org: dict[str, Any], start: Callable[..., dict[str, Any]]
) -> None:
    # given a conversation with three lead messages
    conversation = start(message="um")
    path = f"/conversations/{conversation['id']}"
    for content in ("dois", "três"):
        invoke(api, "POST", f"{path}/messages", token=org["editor"].token, body={"content": content})
    # when it is read two messages at a time
    first = invoke(api, "GET", path, token=org["viewer"].token, query="messages_limit=2")
    assert first.status == 200, first.body
    cursor = first.json()["messages"]["next_cursor"]
    second = invoke(api, "GET", path, token=org["viewer"].token, query=f"messages_limit=2&messages_cursor={cursor}")
    # then the messages come oldest first across the pages, with members' fields
    contents = [m["content"] for m in first.json()["messages"]["data"] + second.json()["messages"]["data"]]
    assert contents == ["um", "dois", "três"]
    assert second.json()["messages"]["next_cursor"] is None
    assert {"model", "cost_usd", "tokens_in", "status"} <= set(first.json()["messages"]["data"][0])
    assert first.json()["lead"]["id"] == conversation["lead"]["id"]


def test_a_release_requeues_a_message_the_worker_skipped_during_the_takeover(
    api: LambdaApi, org: dict[str, Any], start: Callable[..., dict[str, Any]], queue: Any
) -> None:
    # given a lead message queued just before a human took over (the worker then skipped it: not_bot)
    conversation = start(message="Oi")
    path, token = f"/conversations/{conversation['id']}", org["editor"].token
    assert len(turns_for(queue, conversation["id"])) == 1
    assert invoke(api, "POST", f"{path}/takeover", token=token).status == 200
    # when the human hands it back within SQS's five-minute deduplication window
    assert invoke(api, "POST", f"{path}/release", token=token).status == 200
    # then the same message is queued again under its own deduplication id, so SQS does not drop it
    # (moto does not enforce FIFO deduplication, hence the id is checked rather than the drop)
    turns = turns_for(queue, conversation["id"])
    message_id = conversation["first_message"]["id"]
    assert [json.loads(t["Body"])["message_id"] for t in turns] == [message_id]
    assert turns[0]["Attributes"]["MessageDeduplicationId"] != message_id
