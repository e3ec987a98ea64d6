"""The container's single Postgres connection.

Safe behind Supavisor / pgbouncer in transaction mode: psycopg never prepares
statements (``prepare_threshold=None``) and no session state outlives a
transaction (settings are ``set_config(..., true)``, local to it).
"""

from __future__ import annotations

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
    return await psycopg.AsyncConnection.connect(
        settings.database_url.get_secret_value(),
        autocommit=True,
        prepare_threshold=None,
        connect_timeout=settings.db_connect_timeout_seconds,
        application_name=settings.service_name,
        **dead_peer_detection(settings.db_network_timeout_ms),
    )


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


async def get_connection() -> psycopg.AsyncConnection[tuple[object, ...]]:
    """Return the live connection, reconnecting if the last one was closed or broke."""
    conn = await _connection.get()
    if conn.closed or conn.broken:
        _connection.forget()
        conn = await _connection.get()
    return conn


def discard_connection() -> None:
    """Forget the current connection (after a network failure) so the next call reconnects."""
    _connection.forget()


async def close_connection() -> None:
    """Close this container's connection (SnapStart restore hooks, tests, shutdown)."""
    conn = _connection.peek()
    _connection.forget()
    if conn is not None and not conn.closed:
        await conn.close()
