"""shared.db: one connection per container, each request a transaction under the caller's claims."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from shared.db import service_session, user_read, user_session
from shared.db.connection import close_connection, get_connection
from shared.errors import Conflict, Forbidden
from tests.support.aio import run

pytestmark = pytest.mark.integration


def _claims(user_id: uuid.UUID) -> dict[str, str]:
    return {"sub": str(user_id), "role": "authenticated", "aud": "authenticated"}


@pytest.fixture
def user(database_url: str, app_env: dict[str, str]) -> uuid.UUID:
    user_id = uuid.uuid4()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("insert into auth.users (id, email) values (%s, %s)", (user_id, f"{user_id.hex}@example.com"))
    return user_id


def test_user_session_runs_as_authenticated_with_the_callers_claims(user: uuid.UUID) -> None:
    # given a user's claims
    async def probe() -> dict[str, object] | None:
        async with user_session(_claims(user)) as db:
            return await db.one("select current_user as role, auth.uid() as uid")

    # when a query runs in their session / then it runs as role authenticated, and auth.uid() is them
    assert run(probe()) == {"role": "authenticated", "uid": user}


def test_reads_in_turn_each_run_under_their_own_callers_claims(database_url: str, user: uuid.UUID) -> None:
    # given two users, each with a warm container's bound opening (reads alternate, so each is reused)
    other = uuid.uuid4()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("insert into auth.users (id, email) values (%s, %s)", (other, f"{other.hex}@example.com"))

    async def reads() -> list[object]:
        seen = []
        for caller in (user, other, user, other):
            rows = await user_read(_claims(caller), "select auth.uid() as uid, current_setting('work_mem') as mem")
            seen.append(rows[0]["uid"])
        rows = await user_read(_claims(user), "select current_setting('work_mem') as mem", work_mem="3MB")
        seen.append(rows[0]["mem"])
        rows = await user_read(_claims(user), "select current_setting('work_mem') as mem")
        return [*seen, rows[0]["mem"]]

    # when they read in turn / then each read ran as its own caller, and work_mem held for its read only
    seen = run(reads())
    assert seen[:5] == [user, other, user, other, "3MB"]
    assert seen[5] != "3MB"


def test_claims_do_not_outlive_the_transaction(user: uuid.UUID) -> None:
    # given a finished user session
    async def probe() -> dict[str, object] | None:
        async with user_session(_claims(user)):
            pass
        conn = await get_connection()
        cur = await conn.execute("select current_user, nullif(current_setting('request.jwt.claims', true), '')")
        row = await cur.fetchone()
        return {"role": row[0], "claims": row[1]} if row else None

    # when the same connection is used again outside any session / then no role or claims linger
    assert run(probe()) == {"role": psycopg.conninfo.conninfo_to_dict(_url())["user"] or "postgres", "claims": None}


def _url() -> str:
    import os

    return os.environ["DATABASE_URL"]


def test_service_session_bypasses_rls(user: uuid.UUID) -> None:
    # given organizations that the user cannot see
    async def count(session_factory: object) -> int:
        async with session_factory as db:  # type: ignore[attr-defined]
            row = await db.one("select count(*) as n from public.organizations")
            return int(row["n"]) if row else -1

    with psycopg.connect(_url(), autocommit=True) as conn:
        conn.execute(
            "insert into public.organizations (name, slug) values ('Hidden', %s)", (f"hidden-{uuid.uuid4().hex[:8]}",)
        )
    # when counted as the user and as the service role / then only the service role sees them
    assert run(count(user_session(_claims(user)))) == 0
    assert run(count(service_session())) >= 1


def test_error_rolls_back_everything_in_the_transaction(user: uuid.UUID) -> None:
    # given a session that creates an organization, then fails
    slug = f"rollback-{uuid.uuid4().hex[:8]}"

    async def create_then_fail() -> None:
        async with user_session(_claims(user)) as db:
            await db.one("select id from public.create_organization('Rolled back', %s)", (slug,))
            await db.one("select id from public.create_organization('Duplicate', %s)", (slug,))

    # when it runs / then the unique violation maps to Conflict and nothing was written
    with pytest.raises(Conflict):
        run(create_then_fail())
    with psycopg.connect(_url()) as conn:
        assert conn.execute("select count(*) from public.organizations where slug = %s", (slug,)).fetchone() == (0,)


def test_rls_violation_maps_to_forbidden(user: uuid.UUID) -> None:
    # given a user who belongs to no organization
    async def insert_agent_elsewhere() -> None:
        async with user_session(_claims(user)) as db:
            await db.execute(
                "insert into public.agents (organization_id, name) values (%s, 'x')",
                ("00000000-0000-4000-8000-000000000001",),
            )

    # when they insert into another tenant / then Forbidden (RLS), not a 500
    with pytest.raises(Forbidden):
        run(insert_agent_elsewhere())


def test_a_dropped_connection_is_replaced_on_the_next_request(user: uuid.UUID) -> None:
    # given the container's connection killed by the server (idle timeout, failover)
    async def backend_pid() -> int:
        async with user_session(_claims(user)) as db:
            row = await db.one("select pg_backend_pid() as pid")
            return int(row["pid"]) if row else -1

    first = run(backend_pid())
    with psycopg.connect(_url(), autocommit=True) as conn:
        conn.execute("select pg_terminate_backend(%s)", (first,))
    # when the next request arrives / then it succeeds on a new connection
    second = run(backend_pid())
    assert second not in (first, -1)


def test_one_connection_is_reused_across_requests(user: uuid.UUID) -> None:
    # given two consecutive requests in the same container
    async def pid() -> int:
        async with user_session(_claims(user)) as db:
            row = await db.one("select pg_backend_pid() as pid")
            return int(row["pid"]) if row else -1

    # then both run on the same server connection
    assert run(pid()) == run(pid())


def test_close_connection_then_reconnect(user: uuid.UUID) -> None:
    # given a closed container connection (as after a SnapStart restore hook)
    run(close_connection())

    async def uid() -> object:
        async with user_session(_claims(user)) as db:
            row = await db.one("select auth.uid() as uid")
            return row["uid"] if row else None

    # when a request arrives / then it reconnects transparently
    assert run(uid()) == user


def test_a_one_query_session_costs_two_round_trips(user: uuid.UUID, monkeypatch: pytest.MonkeyPatch) -> None:
    # given a count of the statements sent to Postgres
    sent: list[str] = []
    original = psycopg.AsyncCursor.execute

    async def counting(self: psycopg.AsyncCursor[object], query: object, *args: object, **kwargs: object) -> object:
        sent.append(query.decode() if isinstance(query, bytes) else str(query))
        return await original(self, query, *args, **kwargs)  # type: ignore[arg-type]

    async def one_query() -> dict[str, object] | None:
        await get_connection()  # a warm container
        sent.clear()
        async with user_session(_claims(user)) as db:
            return await db.one("select auth.uid() as uid where %s", (True,))

    monkeypatch.setattr(psycopg.AsyncCursor, "execute", counting)
    # when a request runs one query in its session
    row = run(one_query())
    # then the transaction opened with the query (begin, claims and statement together), then committed
    assert row == {"uid": user}
    assert len(sent) == 2
    assert sent[0].startswith("begin;")
    assert sent[1] == "commit"


def test_a_session_that_runs_nothing_sends_nothing(user: uuid.UUID, monkeypatch: pytest.MonkeyPatch) -> None:
    # given a session that decides not to query (e.g. a validation error before any statement)
    sent: list[object] = []
    original = psycopg.AsyncCursor.execute

    async def counting(self: psycopg.AsyncCursor[object], query: object, *args: object, **kwargs: object) -> object:
        sent.append(query)
        return await original(self, query, *args, **kwargs)  # type: ignore[arg-type]

    async def nothing() -> None:
        await get_connection()
        sent.clear()
        async with user_session(_claims(user)):
            pass

    monkeypatch.setattr(psycopg.AsyncCursor, "execute", counting)
    # when it ends / then no round trip was spent on it
    run(nothing())
    assert sent == []
