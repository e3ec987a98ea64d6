"""The database layer behind pgbouncer in transaction mode (Supavisor's port 6543 behaviour)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from shared.db import user_session
from shared.db.connection import close_connection
from shared.settings import get_settings
from tests.support.aio import run

pytestmark = [pytest.mark.integration, pytest.mark.pgbouncer]


@pytest.fixture
def through_pgbouncer(pgbouncer_url: str, app_env: dict[str, str]) -> Iterator[str]:
    """Point the container's DATABASE_URL at pgbouncer for one test."""
    run(close_connection())
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATABASE_URL", pgbouncer_url)
        get_settings.cache_clear()
        yield pgbouncer_url
        run(close_connection())
    get_settings.cache_clear()


def _users(url: str, count: int) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(count)]
    with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
        for user_id in ids:
            conn.execute("insert into auth.users (id, email) values (%s, %s)", (user_id, f"{user_id.hex}@example.com"))
    return ids


def test_many_transactions_with_repeated_statements(through_pgbouncer: str) -> None:
    # given pgbouncer multiplexing our connection in transaction mode
    [user] = _users(through_pgbouncer, 1)

    async def many() -> set[object]:
        seen = set()
        for _ in range(50):  # the same statement 50 times: prepared statements would break here
            async with user_session({"sub": str(user), "role": "authenticated"}) as db:
                row = await db.one("select auth.uid() as uid, current_user as role")
                seen.add((row or {}).get("uid"))
        return seen

    # when the same queries run over and over / then every one succeeds as the right user
    assert run(many()) == {user}


def test_claims_never_leak_between_clients_sharing_one_server_connection(through_pgbouncer: str) -> None:
    # given two clients whose transactions pgbouncer runs on the same single server connection
    users = _users(through_pgbouncer, 2)

    async def as_user(user: uuid.UUID) -> list[object]:
        async with await psycopg.AsyncConnection.connect(
            through_pgbouncer, autocommit=True, prepare_threshold=None
        ) as conn:
            results = []
            for _ in range(20):
                async with conn.transaction():
                    await conn.execute(
                        "select set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true)",
                        (f'{{"sub": "{user}", "role": "authenticated"}}',),
                    )
                    cur = await conn.execute("select auth.uid()")
                    results.append((await cur.fetchone() or [None])[0])
                # outside a transaction: no identity may remain on the shared server connection
                cur = await conn.execute("select auth.uid(), current_user")
                results.append(tuple(await cur.fetchone() or ()))
            return results

    async def both() -> list[list[object]]:
        return list(await asyncio.gather(*(as_user(u) for u in users)))

    # when they interleave / then each only ever sees its own identity, and none outside a transaction
    for user, results in zip(users, run(both()), strict=True):
        inside, outside = results[0::2], results[1::2]
        assert set(inside) == {user}
        assert {row[0] for row in outside} == {None}  # type: ignore[index]
