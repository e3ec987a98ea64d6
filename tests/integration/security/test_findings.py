"""Each finding of the security review (issue 9, "Found from outside"), replayed: none works any more.

One test per finding, named after its number; the database ones act through SQL as the
`authenticated` role (what supabase-js does), the others through the real handlers.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import errors as pg
from starlette.testclient import TestClient

from local_runtime.gateway.app import create_gateway, server_config
from shared import public_urls
from shared.webhooks.urls import check_webhook_url
from tests.integration.db.conftest import Tenant, seed_tenant
from tests.integration.security.widget import invoke_widget, widget_agent
from tests.support.api import LambdaApi
from tests.support.sql import authenticate_as

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tenants(database_url: str) -> tuple[Tenant, Tenant]:
    suffix = uuid.uuid4().hex[:6]
    with psycopg.connect(database_url, autocommit=True) as conn:
        return seed_tenant(conn, f"fa{suffix}"), seed_tenant(conn, f"fb{suffix}")


def _refused(db: psycopg.Connection[Any], sql: str, params: tuple[Any, ...] = ()) -> bool:
    """True when Postgres refuses ``sql`` (privilege, RLS or foreign key); rolled back either way."""
    db.execute("savepoint finding")
    try:
        db.execute(sql, params)  # type: ignore[arg-type]
    except (pg.InsufficientPrivilege, pg.ForeignKeyViolation):
        return True
    finally:
        db.execute("rollback to savepoint finding")
    return False


def test_finding_1_an_admin_cannot_reset_or_remove_the_budget(
    db: psycopg.Connection[Any], tenants: tuple[Tenant, Tenant], make_user: Callable[..., Any]
) -> None:
    a, _ = tenants
    db.execute("update public.budgets set spent_usd = 4 where organization_id = %s and agent_id is null", (a.org,))
    # given A's admin, as supabase-js would act
    authenticate_as(db, a.members["admin"])
    # when they delete the budget, insert a fresh one, or zero the spend / then each is refused
    assert _refused(db, "delete from public.budgets where organization_id = %s", (a.org,))
    assert _refused(db, "insert into public.budgets (organization_id, monthly_limit_usd) values (%s, 1000)", (a.org,))
    assert _refused(db, "update public.budgets set spent_usd = 0 where organization_id = %s", (a.org,))
    # when they change the limit the supported way / then the spend is kept and the change audited
    row = db.execute("select spent_usd, monthly_limit_usd from public.set_budget(%s, null, 50)", (a.org,)).fetchone()
    assert row is not None
    assert (float(row[0]), float(row[1])) == (4.0, 50.0)
    audit = db.execute(
        "select changed_by, new ->> 'monthly_limit_usd' from public.budget_changes"
        " where organization_id = %s order by created_at desc limit 1",
        (a.org,),
    ).fetchone()
    assert audit == (a.members["admin"], "50.000000")
    # and a new organization starts with a budget (none is not unlimited any more)
    creator = make_user()
    authenticate_as(db, creator.user_id)
    org = db.execute("select id from public.create_organization('Fresh org')").fetchone()
    assert org is not None
    budget = db.execute(
        "select monthly_limit_usd > 0 from public.budgets where organization_id = %s and agent_id is null", (org[0],)
    ).fetchone()
    assert budget == (True,)


def test_finding_2_an_editor_cannot_zero_the_conversation_cost(
    db: psycopg.Connection[Any], tenants: tuple[Tenant, Tenant]
) -> None:
    a, _ = tenants
    # given A's editor / when they zero a conversation's or a message's cost / then Postgres refuses
    authenticate_as(db, a.members["editor"])
    conversation, message = a.rows["conversation"], a.rows["message"]
    assert _refused(db, "update public.conversations set cost_usd = 0 where id = %s", (conversation,))
    assert _refused(db, "update public.messages set cost_usd = 0, tokens_out = 0 where id = %s", (message,))
    # nor mark a message delivered or failed (the workers' states), nor reopen a closed conversation
    assert _refused(db, "update public.messages set status = 'failed' where id = %s", (message,))
    db.execute("savepoint closed")
    db.execute("update public.conversations set status = 'closed', closed_at = now() where id = %s", (conversation,))
    assert _refused(
        db, "update public.conversations set status = 'bot', closed_at = null where id = %s", (conversation,)
    )
    db.execute("rollback to savepoint closed")
    # while the moves a person may make still work
    take_over = "update public.conversations set status = 'human', assigned_to = auth.uid() where id = %s"
    assert not _refused(db, take_over, (conversation,))


def test_finding_3_reply_to_cannot_name_another_tenants_message(
    db: psycopg.Connection[Any], tenants: tuple[Tenant, Tenant]
) -> None:
    a, b = tenants
    insert = (
        "insert into public.messages (organization_id, conversation_id, role, content, reply_to)"
        " values (%s, %s, 'assistant', 'x', %s)"
    )
    params = (a.org, a.rows["conversation"], b.rows["message"])
    # given A's editor / when they answer B's pending message directly / then the column is not theirs
    authenticate_as(db, a.members["editor"])
    assert _refused(db, insert, params)
    # and even the service path cannot tie A's reply to B's message: the key includes the organization
    db.execute("reset role; select set_config('request.jwt.claims', '', true)")
    with pytest.raises(pg.ForeignKeyViolation), db.transaction():
        db.execute(insert, params)


def test_finding_4_a_widget_replay_from_another_caller_gets_nothing(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], database_url: str
) -> None:
    # given a visitor who started a conversation with an Idempotency-Key
    agent = widget_agent(make_org()["id"], database_url)
    body, key = {"visitor": {"name": "Bia"}, "message": "Oi"}, str(uuid.uuid4())
    first = invoke_widget(api, agent, body, key, ip="198.51.100.7")
    assert first.status == 201, first.body
    # when someone else replays the same key and body from another address
    replay = invoke_widget(api, agent, body, key, ip="203.0.113.99")
    # then they get a conversation of their own, never the visitor's, and the visitor's token still works
    assert replay.status == 201, replay.body
    assert replay.json()["conversation_id"] != first.json()["conversation_id"]
    assert replay.headers.get("idempotent-replayed") is None
    own = api.call(
        "GET",
        f"/widget/conversations/{first.json()['conversation_id']}",
        headers={"Authorization": f"Bearer {first.json()['visitor_token']}"},
    )
    assert own.status == 200, own.body
    # and the visitor's own retry is still a replay of their conversation
    again = invoke_widget(api, agent, body, key, ip="198.51.100.7")
    assert again.json()["conversation_id"] == first.json()["conversation_id"]


def test_finding_5_adding_a_member_needs_their_consent(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], make_user: Callable[..., Any]
) -> None:
    # given an organization anyone could create, and a registered user
    org, victim = make_org(), make_user()
    path = f"/organizations/{org['id']}/members"
    # when its owner adds the registered e-mail and an unknown one
    known = api.call("POST", path, token=org["owner"].token, body={"email": victim.email, "role": "viewer"})
    unknown = api.call("POST", path, token=org["owner"].token, body={"email": "x-nobody@example.com", "role": "viewer"})
    # then the answers cannot be told apart, and the user was enrolled in nothing
    assert (known.status, set(known.json()), known.json()["status"]) == (
        unknown.status,
        set(unknown.json()),
        unknown.json()["status"],
    )
    assert api.call("GET", "/organizations", token=victim.token).json() == {"data": []}


DEEP = b"[" * 5000 + b"]" * 5000


@pytest.mark.parametrize(
    ("method", "path", "needs_token"),
    [
        ("POST", "/organizations", True),
        ("POST", "/widget/conversations", False),
        ("POST", "/webhooks/hubspot", False),
        ("POST", "/webhooks/pipedrive/00000000-0000-4000-8000-000000000000", False),
        ("POST", "/webhooks/rdstation/00000000-0000-4000-8000-000000000000", False),
        ("POST", "/webhooks/whatsapp", False),
    ],
)
def test_finding_6_deeply_nested_json_is_a_400_naming_the_body(
    api: LambdaApi, make_user: Callable[..., Any], method: str, path: str, needs_token: bool
) -> None:
    # given a body nested 5,000 levels deep, with an Idempotency-Key
    token = make_user().token if needs_token else None
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    # when it is posted / then a 400 problem that names the body, not a 500
    response = api.call(method, path, token=token, raw_body=DEEP.decode(), headers=headers)
    assert response.status == 400, response.body
    assert response.content_type == "application/problem+json"
    assert "body" in response.json()["detail"]


@pytest.mark.parametrize(
    "url",
    [
        "https://127.1/",
        "https://0177.0.0.1/",
        "https://0x7f.0.0.1/",
        "https://10.1/",
        "https://169.254.43518/",
        "https://2130706433/",
        "https://[::ffff:127.0.0.1]/",
        "https://[::ffff:a9fe:a9fe]/",
        "https://[2002:7f00:1::]/",
        "https://[64:ff9b::a9fe:a9fe]/",
        "https://[::]/",
        "https://0.0.0.0/",
        "https://100.64.0.1/",
    ],
)
def test_finding_7_odd_spellings_of_internal_addresses_are_refused(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    # given production settings (loopback receivers allowed only in dev and test)
    monkeypatch.setenv("APP_ENV", "prod")
    from shared.settings import get_settings

    get_settings.cache_clear()
    try:
        # when an endpoint names the URL / then it is refused
        with pytest.raises(ValueError, match="public"):
            check_webhook_url(url)
    finally:
        get_settings.cache_clear()


def test_finding_7_a_name_that_resolves_inside_is_refused_at_delivery(monkeypatch: pytest.MonkeyPatch) -> None:
    # given a public-looking name that DNS points (now) at the metadata service
    async def rebinding(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "169.254.169.254"]

    monkeypatch.setattr(public_urls, "resolver", rebinding)
    # when a delivery resolves it / then it is refused before any connection is made
    with pytest.raises(public_urls.NotPublic, match="not a public address"):
        asyncio.run(public_urls.pin("https://hooks.example.com/in"))


def test_finding_8_editors_cannot_announce_events_and_admins_cannot_edit_invitations(
    db: psycopg.Connection[Any], tenants: tuple[Tenant, Tenant]
) -> None:
    a, _ = tenants
    announced = "select count(*) from public.event_outbox where organization_id = %s"
    before = db.execute(announced, (a.org,)).fetchone()
    # given A's editor / when they insert a qualifying lead event or a conversion / then refused
    authenticate_as(db, a.members["editor"])
    assert _refused(
        db,
        "insert into public.lead_events (organization_id, lead_id, type) values (%s, %s, 'lead.qualified')",
        (a.org, a.rows["lead"]),
    )
    assert _refused(
        db,
        "insert into public.conversions (organization_id, lead_id, type, value) values (%s, %s, 'sale', 999)",
        (a.org, a.rows["lead"]),
    )
    # and nothing reached the outbox
    db.execute("reset role")
    assert db.execute(announced, (a.org,)).fetchone() == before
    # given A's admin / when they rewrite an invitation's e-mail, role or status / then refused
    authenticate_as(db, a.members["admin"])
    for change in ("email = 'me@evil.test'", "role = 'owner'", "status = 'accepted'"):
        assert _refused(db, f"update public.invitations set {change} where id = %s", (a.rows["invitation"],))


def test_finding_9_conversation_broadcasts_are_private(
    db: psycopg.Connection[Any], tenants: tuple[Tenant, Tenant]
) -> None:
    a, b = tenants
    topic = f"conversation:{a.rows['conversation']}"
    # given a broadcast on A's conversation topic (as Realtime checks a join: a row under that topic)
    db.execute(
        "insert into realtime.messages (topic, extension, event, payload, private)"
        " values (%s, 'broadcast', 'typing', '{}', true)",
        (topic,),
    )

    def can_join(user: uuid.UUID | None) -> bool:
        authenticate_as(db, user, role="authenticated" if user else "anon")
        db.execute("select set_config('realtime.topic', %s, true)", (topic,))
        row = db.execute("select count(*) from realtime.messages where topic = %s", (topic,)).fetchone()
        db.execute("reset role")
        return row is not None and row[0] > 0

    # when A's viewer, B's owner and an anonymous client try to join / then only A's member may
    assert can_join(a.members["viewer"])
    assert not can_join(b.members["owner"])
    assert not can_join(None)


def test_finding_10_the_gateway_base64s_invalid_utf8_and_the_function_answers_400(app_env: dict[str, str]) -> None:
    # given the local gateway / when a JSON body with invalid UTF-8 is posted to the public widget
    with TestClient(create_gateway(), base_url="http://127.0.0.1:3000") as gateway:
        response = gateway.post(
            "/widget/conversations",
            content=b'{"message": "\xff\xfe oi"}',
            headers={"content-type": "application/json", "x-publishable-key": "pk_x", "origin": "https://x.example"},
        )
    # then the function answers a 400 problem naming the body, not a plain-text 500
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "UTF-8" in response.json()["detail"]


class _Recorder:
    """Stands in for the function containers and keeps the events the gateway built."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def get(self, _: str) -> _Recorder:
        return self

    async def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        self.events.append(event)
        return {"statusCode": 200, "body": "{}", "headers": {"content-type": "application/json"}}

    def close(self) -> None:
        return None


@pytest.fixture
def served_gateway() -> Iterator[tuple[str, _Recorder]]:
    """The gateway served by uvicorn on a loopback port, as `dev.py up` serves it."""
    import socket

    import uvicorn

    recorder = _Recorder()
    sock = socket.create_server(("127.0.0.1", 0))
    server = uvicorn.Server(server_config(create_gateway(containers=recorder)))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", recorder
    finally:
        server.should_exit = True
        thread.join(10)


def test_finding_10_the_gateway_takes_the_source_ip_from_the_socket(
    app_env: dict[str, str], served_gateway: tuple[str, _Recorder]
) -> None:
    base, recorder = served_gateway
    # when a loopback client claims another address in X-Forwarded-For (the socket is listening
    # already, so the request waits in its backlog until the server thread serves it)
    response = httpx.get(f"{base}/health", headers={"x-forwarded-for": "203.0.113.5"}, timeout=10)
    assert response.status_code == 200
    # then the function sees the socket's address
    assert [e["requestContext"]["http"]["sourceIp"] for e in recorder.events] == ["127.0.0.1"]


def test_finding_10_the_openapi_document_gives_the_authorizers_401(app_env: dict[str, str]) -> None:
    # given the local gateway
    with TestClient(create_gateway(), base_url="http://127.0.0.1:3000") as gateway:
        # when a protected route is called without a token, and the document is read
        refused = gateway.get("/organizations")
        document = gateway.get("/openapi.json").json()
    # then the 401 is AWS's, and the document says so for that route
    assert refused.status_code == 401
    assert refused.json() == {"message": "Unauthorized"}
    documented = document["paths"]["/organizations"]["get"]["responses"]["401"]["content"]["application/json"]
    schema = document["components"]["schemas"][documented["schema"]["$ref"].rsplit("/", 1)[1]]
    assert schema["properties"]["message"]["const"] == "Unauthorized"
