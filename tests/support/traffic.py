"""Record what a request sends over the network: Postgres statements, Redis commands, AWS (boto3 or signed)
and HTTP calls, and which of those calls left while a database transaction was open.

Each ``execute`` of a psycopg cursor is one round trip. Whether a transaction is open is read from
the connection's last ReadyForQuery status (client-side, no query), so recording changes nothing. A
one-trip script (``begin; ...; commit``) in flight holds no transaction open for the client: the server
runs it to its commit whatever the client does meanwhile, so a call made while one runs (a read's
rate-limit count alongside it) is not a call inside a transaction.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import botocore.client
import httpx
import psycopg
import pytest
from psycopg.pq import TransactionStatus
from upstash_redis.http import AsyncHttpClient

from shared import sigv4

_OPEN = (TransactionStatus.INTRANS, TransactionStatus.INERROR, TransactionStatus.ACTIVE)


@dataclass
class Traffic:
    """What was sent while recording."""

    statements: list[str] = field(default_factory=list)
    redis_commands: int = 0
    calls: list[str] = field(default_factory=list)  # every non-database network call
    calls_in_transaction: list[str] = field(default_factory=list)
    _connections: weakref.WeakSet[Any] = field(default_factory=weakref.WeakSet)
    _scripts: weakref.WeakSet[Any] = field(default_factory=weakref.WeakSet)  # running a one-trip script

    def clear(self) -> None:
        self.statements.clear()
        self.calls.clear()
        self.calls_in_transaction.clear()
        self.redis_commands = 0

    def _network(self, what: str) -> None:
        self.calls.append(what)
        if any(self._holds_a_transaction(c) for c in list(self._connections)):
            self.calls_in_transaction.append(what)

    def _holds_a_transaction(self, conn: Any) -> bool:
        status = conn.info.transaction_status
        in_script = status == TransactionStatus.ACTIVE and conn in self._scripts
        return not conn.closed and status in _OPEN and not in_script


@contextmanager
def recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[Traffic]:
    """Patch the client libraries for the duration of the block and record into a ``Traffic``."""
    traffic = Traffic()
    db_execute, redis_execute = psycopg.AsyncCursor.execute, AsyncHttpClient.execute
    aws_call, http_send = botocore.client.BaseClient._make_api_call, httpx.AsyncClient.send
    signed_call = sigv4.post_json

    async def counted_execute(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        traffic._connections.add(self.connection)
        text = query.decode() if isinstance(query, bytes) else str(query)
        traffic.statements.append(text)
        one_trip = text.startswith("begin;") and text.endswith("; commit")
        if one_trip:
            traffic._scripts.add(self.connection)
        try:
            return await db_execute(self, query, *args, **kwargs)
        finally:
            traffic._scripts.discard(self.connection)

    async def counted_redis(self: Any, url: str, headers: Any, command: Any, from_pipeline: bool = False) -> Any:
        traffic.redis_commands += len(command) if from_pipeline else 1
        traffic._network(f"redis {command[0] if command and not from_pipeline else 'pipeline'}")
        return await redis_execute(self, url, headers, command, from_pipeline)

    def counted_aws(self: Any, operation: str, params: Any) -> Any:
        traffic._network(f"aws {operation}")
        return aws_call(self, operation, params)

    def counted_signed(url: str, api: sigv4.JsonApi, operation: str, *args: Any) -> Any:
        # A SigV4-signed call without boto3 (shared.sigv4: SSM, SQS SendMessage), named as botocore names it.
        traffic._network(f"aws {operation}")
        return signed_call(url, api, operation, *args)

    async def counted_http(self: Any, request: httpx.Request, *args: Any, **kwargs: Any) -> Any:
        traffic._network(f"http {request.method} {request.url.host}")
        return await http_send(self, request, *args, **kwargs)

    monkeypatch.setattr(psycopg.AsyncCursor, "execute", counted_execute)
    monkeypatch.setattr(AsyncHttpClient, "execute", counted_redis)
    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counted_aws)
    monkeypatch.setattr(sigv4, "post_json", counted_signed)
    monkeypatch.setattr(httpx.AsyncClient, "send", counted_http)
    yield traffic
