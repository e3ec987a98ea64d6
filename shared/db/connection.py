"""The container's single Postgres connection.

Safe behind Supavisor / pgbouncer in transaction mode: psycopg never prepares
statements (``prepare_threshold=None``) and no session state outlives a
transaction (settings are ``set_config(..., true)``, local to it).
"""

from __future__ import annotations

import select
import time
import weakref
from typing import Any

import psycopg

from shared.clients.per_loop import PerLoop
from shared.errors import UpstreamUnavailable
from shared.settings import Settings, get_settings, refresh_secrets

# Secrets this module reads (shared/settings.py: require_used_secrets, and the serverless.yml test).
SECRETS_USED = ("database_url",)


async def _connect() -> psycopg.AsyncConnection[tuple[object, ...]]:
    try:
        try:
            return await _open(get_settings())
        except psycopg.OperationalError as exc:
            if not _is_auth_failure(exc):
                raise
            # The password may have rotated since this container resolved it: fetch it again, once.
            return await _open(refresh_secrets())
    except psycopg.OperationalError as exc:
        raise UpstreamUnavailable("database unavailable") from exc


async def _open(settings: Settings) -> psycopg.AsyncConnection[tuple[object, ...]]:
    conn = await psycopg.AsyncConnection.connect(
        settings.database_url.get_secret_value(),
        autocommit=True,
        prepare_threshold=None,
        connect_timeout=settings.db_connect_timeout_seconds,
        application_name=settings.service_name,
        **dead_peer_detection(settings.db_network_timeout_ms),
    )
    answered(conn)
    return conn


def dead_peer_detection(timeout_ms: int) -> dict[str, Any]:
    """libpq's TCP settings that drop a connection the server stopped answering after ``timeout_ms``.

    ``tcp_user_timeout`` bounds how long what we sent may stay unacknowledged (a statement sent into a
    dead network); keepalive probes, one a second once the connection is quiet, make a server that goes
    dark while it works on a statement count the same way (with ``TCP_USER_TIMEOUT`` set, Linux drops
    the connection when a probe is unanswered and nothing has arrived for that long). A slow statement
    on a live server answers the probes, so only ``statement_timeout`` ends it. Without these, the kernel
    retransmits for about 15 minutes. Ignored on a Unix-domain socket.
    """
    return {
        "tcp_user_timeout": timeout_ms,
        "keepalives": 1,
        "keepalives_idle": 1,
        "keepalives_interval": 1,
        "keepalives_count": max(1, -(-timeout_ms // 1000)),
    }


def _is_auth_failure(exc: psycopg.OperationalError) -> bool:
    """Postgres refused the credentials (28P01; a failed connection carries no SQLSTATE, only the text)."""
    return exc.sqlstate in ("28P01", "28000") or "password authentication failed" in str(exc)


_connection: PerLoop[psycopg.AsyncConnection[tuple[object, ...]]] = PerLoop(_connect)


# When each connection last answered (wall clock: a frozen Lambda's idle time counts), for ``get_connection``.
_ANSWERED: weakref.WeakKeyDictionary[psycopg.AsyncConnection[Any], float] = weakref.WeakKeyDictionary()


def answered(conn: psycopg.AsyncConnection[Any]) -> None:
    """Note that ``conn`` just completed a round trip: it was alive now."""
    _ANSWERED[conn] = time.time()


async def get_connection(*, verified: bool = False) -> psycopg.AsyncConnection[tuple[object, ...]]:
    """The live connection, reconnecting if the last one was closed, broke, or was ended by the server.

    A server (or pooler) that ends an idle connection says so before it closes the socket, so an idle
    connection with something to read is dropped here, before anything is sent on it (one poll,
    no round trip). ``verified``: the caller is about to send something that must not run twice (a write
    without an Idempotency-Key), and a connection quiet for longer than ``DB_IDLE_CHECK_SECONDS`` may have
    died silently (a NAT mapping expired while the container was frozen): it is checked with a
    ``select 1`` first, and replaced if that fails, so the write is sent on a connection known to be alive.
    """
    conn = await _connection.get()
    if conn.closed or conn.broken or _ended_by_server(conn):
        conn = await _replace()
    elif verified and time.time() - _ANSWERED.get(conn, 0.0) > get_settings().db_idle_check_seconds:
        try:
            await conn.execute("select 1")
            answered(conn)
        except psycopg.OperationalError:
            conn = await _replace()
    return conn


def _ended_by_server(conn: psycopg.AsyncConnection[Any]) -> bool:
    """Whether an idle connection has anything to read: a server's goodbye (an error, then end of stream).

    Between round trips nothing else arrives on our connections (no LISTEN, no statements left running).
    """
    try:
        poller = select.poll()  # not select(): no FD_SETSIZE limit on the descriptor's number
        poller.register(conn.pgconn.socket, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, psycopg.OperationalError):
        return True


async def _replace() -> psycopg.AsyncConnection[tuple[object, ...]]:
    discard_connection()
    return await _connection.get()


def discard_connection() -> None:
    """Drop the current connection (after a network failure): its socket is closed now, and the next call
    reconnects. Nothing more is read from or sent on it."""
    conn = _connection.peek()
    _connection.forget()
    if conn is not None:
        conn.pgconn.finish()


async def close_connection() -> None:
    """Close this container's connection (SnapStart restore hooks, tests, shutdown)."""
    conn = _connection.peek()
    _connection.forget()
    if conn is not None and not conn.closed:
        await conn.close()
