"""Transactions under the caller's identity, the way PostgREST runs them.

``user_session`` sets ``role = authenticated`` and ``request.jwt.claims`` for the
transaction only, so RLS decides what the request can reach. ``service_session``
is the explicit, RLS-bypassing path for workers and crons.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, LiteralString

import psycopg
from psycopg.rows import dict_row

from shared.db.connection import discard_connection, get_connection
from shared.db.errors import translate
from shared.errors import AppError, UpstreamUnavailable
from shared.settings import get_settings

Row = dict[str, Any]
# Sent as one simple-protocol query (literals bound client-side), so opening a transaction
# under a role and its claims is one round trip, not three.
_BEGIN_WITH_CONTEXT: LiteralString = (
    "begin; select set_config('role', %s, true), set_config('request.jwt.claims', %s, true),"
    " set_config('statement_timeout', %s, true)"
)
_SERVICE_CLAIMS = json.dumps({"role": "service_role"})


class Session:
    """A transaction in progress; each method is one round trip."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._conn = conn

    async def one(self, sql: LiteralString, params: Mapping[str, Any] | tuple[Any, ...] = ()) -> Row | None:
        """The first row of ``sql``, or None."""
        async with self._conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(sql, params)
            return await cur.fetchone()

    async def all(self, sql: LiteralString, params: Mapping[str, Any] | tuple[Any, ...] = ()) -> list[Row]:
        """Every row of ``sql``."""
        async with self._conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(sql, params)
            return await cur.fetchall()

    async def execute(self, sql: LiteralString, params: Mapping[str, Any] | tuple[Any, ...] = ()) -> int:
        """Run ``sql`` and return how many rows it touched."""
        async with self._conn.cursor() as cur:
            await cur.execute(sql, params)
            return cur.rowcount


@asynccontextmanager
async def user_session(claims: Mapping[str, Any]) -> AsyncIterator[Session]:
    """A transaction as role ``authenticated`` with the caller's verified JWT claims."""
    async with _transaction("authenticated", json.dumps(claims, separators=(",", ":"))) as session:
        yield session


@asynccontextmanager
async def service_session() -> AsyncIterator[Session]:
    """A transaction as ``service_role``, which bypasses RLS. Workers and crons only."""
    async with _transaction("service_role", _SERVICE_CLAIMS) as session:
        yield session


async def service_call(sql: LiteralString, params: tuple[Any, ...] = ()) -> Row | None:
    """One statement as ``service_role`` in its own transaction, in a single round trip.

    For the worker's hot path (``app.begin_turn`` / ``app.finish_turn``): begin, role,
    statement and commit travel as one simple-protocol query with client-side binding.
    """
    for attempt in range(2):
        conn = await get_connection()
        cursor = psycopg.AsyncClientCursor(conn)
        script = (
            cursor.mogrify(_BEGIN_WITH_CONTEXT, ("service_role", _SERVICE_CLAIMS, _timeout()))
            + "; "
            + cursor.mogrify(sql, params)
            + "; commit"
        )
        try:
            async with conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(script.encode())
                cur.nextset()  # past BEGIN
                cur.nextset()  # past set_config
                return await cur.fetchone()
        except psycopg.OperationalError as exc:
            discard_connection()
            if attempt == 1:
                raise UpstreamUnavailable("database unavailable") from exc
        except psycopg.Error as exc:
            await _rollback(conn)
            raise translate(exc) from exc
    raise AppError("unreachable")  # pragma: no cover


def _timeout() -> str:
    return str(get_settings().db_statement_timeout_ms)


@asynccontextmanager
async def _transaction(role: str, claims_json: str) -> AsyncIterator[Session]:
    conn = await _begin(role, claims_json)
    try:
        yield Session(conn)
    except BaseException as exc:
        await _rollback(conn)
        if isinstance(exc, psycopg.Error):
            raise translate(exc) from exc
        raise
    else:
        try:
            await conn.execute("commit")
        except psycopg.Error as exc:
            await _rollback(conn)
            raise translate(exc) from exc


async def _begin(role: str, claims_json: str) -> psycopg.AsyncConnection[Any]:
    """Open a transaction as ``role`` with ``claims_json``, reconnecting once if the connection went stale."""
    for attempt in range(2):
        conn = await get_connection()
        try:
            script = psycopg.AsyncClientCursor(conn).mogrify(_BEGIN_WITH_CONTEXT, (role, claims_json, _timeout()))
            await conn.execute(script.encode())
            return conn
        except psycopg.OperationalError as exc:
            discard_connection()
            if attempt == 1:
                raise UpstreamUnavailable("database unavailable") from exc
    raise AppError("unreachable")  # pragma: no cover


async def _rollback(conn: psycopg.AsyncConnection[Any]) -> None:
    if conn.closed or conn.broken:
        discard_connection()
        return
    try:
        await conn.execute("rollback")
    except psycopg.Error:
        discard_connection()
