"""A connection lost around a write: a change is applied at most once, or the client is told it may have been.

``shared.db`` sends a write's script once unless it claims an Idempotency-Key (then a second run replays
the first). A connection the server ended while idle is dropped before anything is sent on it, and one
quiet for longer than ``DB_IDLE_CHECK_SECONDS`` is checked first, so a lost answer is the only case
left. The network is ``tests.support.lossy_link``: a real TCP relay to the real test Postgres that resets
a connection exactly before a query reaches the server, or after the server answered it.
"""

from __future__ import annotations

import os
import resource
import select
import time
import types
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from shared.db import connection
from shared.settings import get_settings
from tests.integration.api.test_idempotency import count
from tests.support.aio import run
from tests.support.api import LambdaApi, LambdaResponse
from tests.support.lossy_link import LossyLink, lossy_link

pytestmark = pytest.mark.integration

IDLE_CHECK_SECONDS = 30
WRITE = b"claim_idempotency_key_or_raise"  # in a message's write script (its read of the conversation comes first)


@pytest.fixture
def conversation(api: LambdaApi, make_org: Callable[[], dict[str, Any]], database_url: str) -> dict[str, Any]:
    """A conversation an editor may post to, made over the test database's own connection."""
    org = make_org()
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "insert into public.agents (organization_id, name) values (%s, 'Sofia') returning id", (org["id"],)
        ).fetchone()
        assert row is not None
        conn.execute(
            "insert into public.agent_versions (organization_id, agent_id, version, config) values (%s, %s, 1, %s)",
            (org["id"], row[0], Jsonb({})),
        )
    started = api.call(
        "POST", f"/organizations/{org['id']}/conversations", token=org["editor"].token, body={"agent_id": str(row[0])}
    )
    assert started.status == 201, started.body
    return {
        "id": started.json()["id"],
        "token": org["editor"].token,
        "owner_token": org["owner"].token,
        "organization_id": org["id"],
    }


@pytest.fixture
def link(app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[LossyLink]:
    """The functions' database connection through a ``LossyLink``, from a fresh connection."""
    with lossy_link(app_env["DATABASE_URL"]) as forwarder:
        run(connection.close_connection())
        monkeypatch.setenv("DATABASE_URL", forwarder.url)
        monkeypatch.setenv("DB_IDLE_CHECK_SECONDS", str(IDLE_CHECK_SECONDS))
        get_settings.cache_clear()
        try:
            yield forwarder
        finally:
            run(connection.close_connection())
            get_settings.cache_clear()


def post(api: LambdaApi, conversation: dict[str, Any], content: str, key: str | None = None) -> LambdaResponse:
    headers = {"Idempotency-Key": key} if key else {}
    return api.call(
        "POST",
        f"/conversations/{conversation['id']}/messages",
        token=conversation["token"],
        body={"content": content},
        headers=headers,
    )


def stored(database_url: str, conversation: dict[str, Any], content: str) -> list[str]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "select id::text from public.messages where conversation_id = %s and content = %s",
            (conversation["id"], content),
        ).fetchall()
    return [row[0] for row in rows]


def warm(api: LambdaApi, conversation: dict[str, Any]) -> None:
    """One read through the link, so the functions' connection is open and has just answered."""
    read = api.call("GET", f"/conversations/{conversation['id']}", token=conversation["token"])
    assert read.status == 200, read.body


def test_given_a_keyless_write_whose_answer_is_lost_then_503_outcome_unknown_and_applied_once(
    api: LambdaApi, conversation: dict[str, Any], link: LossyLink, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a warm connection, and the network losing the answer to the next query
    warm(api, conversation)
    link.lose_next_answer(containing=WRITE)
    # when a message is posted without an Idempotency-Key
    lost = post(api, conversation, "sem chave")
    # then the client hears that the change may have been applied, with a way to apply it once
    assert lost.status == 503, lost.body
    assert lost.content_type.startswith("application/problem+json")
    assert lost.json()["type"].endswith("outcome-unknown")  # not the "nothing changed" 503
    assert "may or may not have been applied" in lost.json()["detail"]
    assert "Idempotency-Key" in lost.json()["detail"]
    assert '"WriteOutcomeUnknown":[1.0]' in capsys.readouterr().out  # a metric, so operators see how often
    # and it was applied once: the script committed, and was not sent a second time
    assert link.fired == ["lose_next_answer"]
    assert len(stored(database_url, conversation, "sem chave")) == 1
    # and the next write, on a new connection, is answered
    assert post(api, conversation, "depois").status == 202


def test_given_a_reset_during_a_keyless_write_then_503_and_nothing_applied(
    api: LambdaApi, conversation: dict[str, Any], link: LossyLink, database_url: str
) -> None:
    # given a connection that answered just now, reset as the next query leaves
    warm(api, conversation)
    link.reset_next_send(containing=WRITE)
    # when a message is posted without an Idempotency-Key / then 503: whether it ran cannot be known here
    assert post(api, conversation, "perdida").status == 503
    # and it did not run (the server never saw it); the client's retry applies it once
    assert link.fired == ["reset_next_send"]
    assert stored(database_url, conversation, "perdida") == []
    assert post(api, conversation, "perdida").status == 202
    assert len(stored(database_url, conversation, "perdida")) == 1


def test_given_a_reset_during_a_read_then_the_read_is_sent_again(
    api: LambdaApi, conversation: dict[str, Any], link: LossyLink
) -> None:
    # given a warm connection, reset as the next query leaves
    warm(api, conversation)
    link.reset_next_send()
    # when a read runs / then it is sent again on a new connection (reading twice changes nothing)
    read = api.call("GET", f"/conversations/{conversation['id']}", token=conversation["token"])
    assert read.status == 200, read.body
    assert link.fired == ["reset_next_send"]


def create_agent(api: LambdaApi, conversation: dict[str, Any], name: str, key: str | None = None) -> LambdaResponse:
    """A write whose script is the request's first round trip (no read, no rate limit before it)."""
    path = f"/organizations/{conversation['organization_id']}/agents"
    headers = {"Idempotency-Key": key} if key else {}
    return api.call("POST", path, token=conversation["token"], body={"name": name, "persona": "p"}, headers=headers)


def agents_named(database_url: str, conversation: dict[str, Any], name: str) -> int:
    sql = "select count(*) from public.agents where organization_id = %s and name = %s"
    return count(database_url, sql, conversation["organization_id"], name)


def keyed_message(api: LambdaApi, conversation: dict[str, Any], database_url: str) -> tuple[LambdaResponse, list[str]]:
    """A message posted with a key (202); the ids of the messages it stored."""
    answered = post(api, conversation, "com chave", key=str(uuid.uuid4()))
    return answered, stored(database_url, conversation, "com chave")


def keyed_agent(api: LambdaApi, conversation: dict[str, Any], database_url: str) -> tuple[LambdaResponse, list[str]]:
    """An agent created with a key (201); the ids of the agents it made."""
    answered = create_agent(api, conversation, "Com chave", key=str(uuid.uuid4()))
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "select id::text from public.agents where organization_id = %s and name = 'Com chave'",
            (conversation["organization_id"],),
        ).fetchall()
    return answered, [row[0] for row in rows]


@pytest.mark.parametrize(("write", "status"), [(keyed_message, 202), (keyed_agent, 201)])
def test_given_a_keyed_write_whose_answer_is_lost_then_it_is_sent_again_and_replays_the_first(
    api: LambdaApi,
    conversation: dict[str, Any],
    link: LossyLink,
    database_url: str,
    write: Callable[[LambdaApi, dict[str, Any], str], tuple[LambdaResponse, list[str]]],
    status: int,
) -> None:
    # given a warm connection, and the network losing the answer to the next write
    warm(api, conversation)
    link.lose_next_answer(containing=WRITE)
    # when a message is posted, or an agent created, with an Idempotency-Key
    answered, made = write(api, conversation, database_url)
    # then the script is sent again on a new connection, which finds the key claimed and replays the answer
    assert answered.status == status, answered.body
    assert link.fired == ["lose_next_answer"]
    assert made == [answered.json()["id"]]


def test_given_a_connection_quiet_past_the_idle_check_when_a_keyless_write_comes_then_it_is_checked_first(
    api: LambdaApi, conversation: dict[str, Any], link: LossyLink, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a connection that last answered longer ago than the idle check (a frozen container), whose
    # network path expired meanwhile without a word (its next query is reset before the server sees it)
    warm(api, conversation)
    later = time.time() + IDLE_CHECK_SECONDS + 1
    monkeypatch.setattr(connection, "time", types.SimpleNamespace(time=lambda: later))
    link.expire_flows()
    # when an agent is created (a keyless write, the request's first round trip)
    created = create_agent(api, conversation, "Depois do sono")
    # then the check met the reset, the connection was replaced, and the write was sent once and applied
    assert created.status == 201, created.body
    assert link.fired == ["expired"]
    assert agents_named(database_url, conversation, "Depois do sono") == 1


def test_given_a_connection_quiet_within_the_idle_check_then_a_keyless_write_costs_no_check(
    api: LambdaApi, conversation: dict[str, Any], link: LossyLink
) -> None:
    # given a connection that answered just now
    warm(api, conversation)
    sent: list[bytes] = []
    original = psycopg.AsyncCursor.execute

    async def counted(self: psycopg.AsyncCursor[Any], query: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(query if isinstance(query, bytes) else str(query).encode())
        return await original(self, query, *args, **kwargs)

    # when an agent is created
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(psycopg.AsyncCursor, "execute", counted)
        assert create_agent(api, conversation, "Sem espera").status == 201
    # then its script was the one round trip: no check went before it
    assert len(sent) == 1, sent


def test_given_the_server_ended_the_idle_connection_when_a_keyless_write_comes_then_it_reconnects_first(
    api: LambdaApi, conversation: dict[str, Any], link: LossyLink, database_url: str
) -> None:
    # given the functions' connection ended by the server while idle (idle timeout, failover, restart)
    warm(api, conversation)
    conn = run(connection.get_connection())
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute("select pg_terminate_backend(%s)", (conn.info.backend_pid,))
    # (its goodbye has reached our side of the socket: waiting for that event, not for a time)
    readable, _, _ = select.select([conn.pgconn.socket], [], [], 10)
    assert readable
    # when an agent is created (a keyless write, the request's first round trip)
    created = create_agent(api, conversation, "Depois do fim")
    # then it went on a new connection and was applied once
    assert created.status == 201, created.body
    assert agents_named(database_url, conversation, "Depois do fim") == 1


@contextmanager
def descriptors_taken() -> Iterator[None]:
    """Every free descriptor up to 1100 in use, so the next socket is numbered past select()'s FD_SETSIZE (1024)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200:
        pytest.skip(f"needs 1200 open files (RLIMIT_NOFILE is {soft})")
    taken = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        yield
    finally:
        for fd in taken:
            os.close(fd)


def test_given_a_connection_numbered_past_1024_when_requests_follow_then_it_is_kept(
    api: LambdaApi, conversation: dict[str, Any]
) -> None:
    # given the functions' connection opened on a descriptor numbered past 1024 (a busy local runtime)
    run(connection.close_connection())
    with descriptors_taken():
        warm(api, conversation)
        first = run(connection.get_connection())
        assert first.pgconn.socket > 1024
        # when more requests come / then the idle check keeps it (it does not take it for one the server ended)
        warm(api, conversation)
        assert create_agent(api, conversation, "Descritor alto").status == 201
        assert run(connection.get_connection()) is first
        run(connection.close_connection())


def test_given_a_transaction_whose_commit_answer_is_lost_then_503_outcome_unknown_and_applied_once(
    api: LambdaApi, conversation: dict[str, Any], link: LossyLink, database_url: str
) -> None:
    # given a write that runs as a transaction (its statement, then a `commit` of its own), and the network
    # losing the commit's answer
    warm(api, conversation)
    link.lose_next_answer(containing=b"commit")
    # when an owner connects a CRM
    body = {
        "kind": "pipedrive",
        "name": "Funil perdido",
        "credentials": {"api_token": "t" * 40, "webhook_username": "ca", "webhook_password": "p" * 24},
    }
    path = f"/organizations/{conversation['organization_id']}/integrations"
    lost = api.call("POST", path, token=conversation["owner_token"], body=body)
    # then the client hears the outcome is unknown, not that nothing changed
    assert lost.status == 503, lost.body
    assert lost.json()["type"].endswith("outcome-unknown")
    assert link.fired == ["lose_next_answer"]
    # and the commit did happen, once
    sql = "select count(*) from public.integrations where organization_id = %s and name = 'Funil perdido'"
    assert count(database_url, sql, conversation["organization_id"]) == 1
