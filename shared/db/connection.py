"""The container's single Postgres connection.

Safe behind Supavisor / pgbouncer in transaction mode: psycopg never prepares
statements (``prepare_threshold=None``) and no session state outlives a
transaction (settings are ``set_config(..., true)``, local to it).
"""

from __future__ import annotations

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
    )


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
