"""Transactions under the caller's identity, the way PostgREST runs them.

``user_session`` sets ``role = authenticated`` and ``request.jwt.claims`` for the
transaction only, so RLS decides what the request can reach. ``service_session``
is the explicit, RLS-bypassing path for workers and crons.
"""

from __future__ import annotations

import json
import json.scanner
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, LiteralString, cast

import psycopg
from psycopg import pq
from psycopg.rows import dict_row
from psycopg.types.json import set_json_loads

from shared.db.connection import answered, discard_connection, get_connection
from shared.db.errors import translate
from shared.errors import AppError, OutcomeUnknown, UpstreamUnavailable
from shared.observability import logger, metrics
from shared.settings import get_settings

Row = dict[str, Any]
# Settings for one transaction (``set_config(name, value, true)``), as (name, value) pairs, in the opening.
TransactionSettings = tuple[tuple[str, str], ...]
# Sent as one simple-protocol query (literals bound client-side), so opening a transaction
# under a role and its claims is one round trip, not three.
_BEGIN_WITH_CONTEXT: LiteralString = (
    "begin; select set_config('role', %s, true), set_config('request.jwt.claims', %s, true),"
    " set_config('statement_timeout', %s, true)"
)
_SERVICE_CLAIMS = json.dumps({"role": "service_role"})
# Opening statements already bound, by (role, claims, timeout, settings): a warm container sees the same
# few callers again and again, so a read binds only its own statement. Bounded; oldest dropped first.
_OPENINGS: dict[tuple[str, str, str, TransactionSettings], str] = {}
_OPENINGS_SIZE = 256
# The JSON text of claims objects already seen, by their id (see ``_claims_json``); bounded like the openings.
_CLAIMS_JSON: dict[int, tuple[Mapping[str, Any], str]] = {}
_BINDER: tuple[psycopg.AsyncConnection[Any], psycopg.AsyncClientCursor[Any]] | None = None
OUTCOME_UNKNOWN = (
    "database connection lost while the change was sent: it may or may not have been applied; read it back"
    " before retrying (where the route takes an Idempotency-Key, a retry with one is applied once)"
)


# ``json`` and ``jsonb`` values arrive as Postgres' UTF-8 text of one JSON document, with no surrounding
# whitespace: the C scanner ``json.loads`` ends in reads them directly, without ``json.loads``' encoding
# detection and regular expressions (a list of rows carries many such values). Anything else, or anything
# the scanner does not read to its end, goes to ``json.loads``, which returns or raises as it always did.
_SCAN_JSON = json.scanner.make_scanner(cast(Any, json.JSONDecoder()))  # typeshed types its argument oddly


def _json_loads(data: bytes | bytearray | memoryview | str) -> Any:
    text = data if isinstance(data, str) else bytes(data).decode()
    try:
        value, end = _SCAN_JSON(text, 0)
    except StopIteration:
        return json.loads(text)
    return value if end == len(text) else json.loads(text)


set_json_loads(_json_loads)

Params = Mapping[str, Any] | tuple[Any, ...]
Statement = tuple[LiteralString, Params]


class KeyedClaim(tuple[LiteralString, Params]):
    """A write script's first statement when it claims a client's Idempotency-Key (``shared.idempotency``).

    A script that starts with one may run twice: the second run finds the key claimed and replays the
    first one's answer. ``user_write`` and ``service_write`` send it again after a lost answer; a
    script without one is sent once (see ``_one_trip``).
    """

    __slots__ = ()


class Session:
    """A transaction in progress; each method is one round trip.

    The transaction opens with the first statement: ``begin``, the role and claims, and that
    statement travel as one simple-protocol script (bound client-side), so a one-query
    request costs two round trips (that script, then ``commit``) instead of three.
    """

    def __init__(self, role: str, claims_json: str, settings: TransactionSettings = ()) -> None:
        self._opening: tuple[str, str, TransactionSettings] | None = (role, claims_json, settings)
        self._conn: psycopg.AsyncConnection[Any] | None = None

    @property
    def connection(self) -> psycopg.AsyncConnection[Any] | None:
        """The connection the transaction runs on, once it has started."""
        return self._conn

    async def one(self, sql: LiteralString, params: Params = ()) -> Row | None:
        """The first row of ``sql``, or None."""
        async with self._cursor(sql, params) as cur:
            return await cur.fetchone()

    async def all(self, sql: LiteralString, params: Params = ()) -> list[Row]:
        """Every row of ``sql``."""
        async with self._cursor(sql, params) as cur:
            return await cur.fetchall()

    async def execute(self, sql: LiteralString, params: Params = ()) -> int:
        """Run ``sql`` and return how many rows it touched."""
        async with self._cursor(sql, params) as cur:
            return cur.rowcount

    @asynccontextmanager
    async def _cursor(self, sql: LiteralString, params: Params) -> AsyncIterator[psycopg.AsyncCursor[Row]]:
        if self._opening is None:
            assert self._conn is not None
            async with self._conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(sql, params)
                yield cur
            return
        for attempt in range(2):
            self._conn = await get_connection()
            binder = _binder(self._conn)
            script = f"{_opening(binder, *self._opening)}; {binder.mogrify(sql, params)}"
            try:
                async with self._conn.cursor(row_factory=dict_row) as cur:
                    await cur.execute(script.encode())
                    answered(self._conn)
                    self._opening = None
                    cur.nextset()  # past BEGIN
                    cur.nextset()  # past set_config
                    yield cur
                return
            except psycopg.OperationalError as exc:
                if self._opening is None:
                    raise  # the transaction had started: let the caller roll back
                discard_connection()  # a stale connection from a frozen container: reconnect once
                if attempt == 1:
                    raise UpstreamUnavailable("database unavailable") from exc


@asynccontextmanager
async def user_session(claims: Mapping[str, Any], *, settings: TransactionSettings = ()) -> AsyncIterator[Session]:
    """A transaction as role ``authenticated`` with the caller's verified JWT claims.

    ``settings`` hold for this transaction only, set in its opening statement (no round trip of their own).
    """
    async with _transaction("authenticated", _claims_json(claims), settings) as session:
        yield session


@asynccontextmanager
async def service_session(*, settings: TransactionSettings = ()) -> AsyncIterator[Session]:
    """A transaction as ``service_role``, which bypasses RLS. Workers and crons only; ``settings`` as above."""
    async with _transaction("service_role", _SERVICE_CLAIMS, settings) as session:
        yield session


async def user_read(
    claims: Mapping[str, Any], sql: LiteralString, params: Params = (), *, work_mem: str | None = None
) -> list[Row]:
    """Every row of one statement run as the caller, in a transaction of its own, in one round trip.

    For reads: begin, role and claims, the statement and commit travel as one simple-protocol
    script, so a warm read costs the same one round trip as a bare SELECT. ``work_mem`` (say
    ``"64MB"``) is set for this transaction only, in the same opening statement, before ``sql`` is planned.
    """
    settings: TransactionSettings = (("work_mem", work_mem),) if work_mem is not None else ()
    return await _one_trip("authenticated", _claims_json(claims), [(sql, params)], settings)


async def user_write(claims: Mapping[str, Any], *statements: Statement) -> list[Row]:
    """Run ``statements`` in order as the caller, in one transaction and one round trip; the last one's rows.

    For writes: an Idempotency-Key claim, the write and its remembered response travel as one script.
    A statement that raises stops the script, and the transaction rolls back. Sent at most once unless
    it starts with a ``KeyedClaim``: when its answer is lost, ``OutcomeUnknown`` (503).
    """
    return await _one_trip("authenticated", _claims_json(claims), list(statements), replayable=_keyed(statements))


async def service_call(sql: LiteralString, params: Params = ()) -> Row | None:
    """One statement as ``service_role`` in its own transaction, in a single round trip; its first row.

    For the worker's hot path (``app.begin_turn`` / ``app.finish_turn``) and service-path reads. Sent again
    after a lost answer: every caller's statement is a read or safe to run twice, as the workers' must be
    anyway (SQS delivers at least once; ``app.finish_turn`` recognises its own settled reservation).
    """
    rows = await _one_trip("service_role", _SERVICE_CLAIMS, [(sql, params)])
    return rows[0] if rows else None


async def service_write(*statements: Statement) -> list[Row]:
    """``user_write`` as ``service_role`` (RLS bypassed): the widget and webhooks, scoped by what they proved."""
    return await _one_trip("service_role", _SERVICE_CLAIMS, list(statements), replayable=_keyed(statements))


async def service_read(sql: LiteralString, params: Params = (), *, settings: TransactionSettings = ()) -> list[Row]:
    """Every row of one statement as ``service_role``, in a single round trip (the turn's knowledge lookups).

    ``settings`` hold for this transaction only, set in the opening statement before ``sql`` is planned.
    """
    return await _one_trip("service_role", _SERVICE_CLAIMS, [(sql, params)], settings)


def _keyed(statements: tuple[Statement, ...]) -> bool:
    return bool(statements) and isinstance(statements[0], KeyedClaim)


def _claims_json(claims: Mapping[str, Any]) -> str:
    """The claims as JSON; remembered per claims object, which a warm container's verifier hands out again.

    Verified claims are never changed after verification (``shared.auth.jwt`` keeps them with the
    principal it caches), so the same object always dumps to the same text. The object is held, so
    its id is never reused while remembered.
    """
    known = _CLAIMS_JSON.get(id(claims))
    if known is not None and known[0] is claims:
        return known[1]
    text = json.dumps(claims, separators=(",", ":"))
    if len(_CLAIMS_JSON) >= _OPENINGS_SIZE:
        _CLAIMS_JSON.pop(next(iter(_CLAIMS_JSON)), None)  # None: another thread may have dropped it first
    _CLAIMS_JSON[id(claims)] = (claims, text)
    return text


async def _one_trip(
    role: str,
    claims_json: str,
    statements: list[Statement],
    settings: TransactionSettings = (),
    *,
    replayable: bool = True,
) -> list[Row]:
    """Begin under ``role`` and claims, run ``statements``, commit: one query with client-side binding.

    A connection that fails during the round trip is replaced. The script is then sent again, once, if
    ``replayable`` (a read; a write whose second run replays the first). Otherwise its commit may or may
    not have happened, and sending it again could apply it twice: the caller gets 503 saying so, and
    retries with an Idempotency-Key. What was sent on a connection already known to be dead never
    reached the server; ``get_connection(verified=True)`` makes that the common case.
    """
    for attempt in range(2):
        conn = await get_connection(verified=not replayable)
        cursor = _binder(conn)
        script = "; ".join(
            [
                _opening(cursor, role, claims_json, settings),
                *(cursor.mogrify(sql, params) for sql, params in statements),
                "commit",
            ]
        )
        try:
            async with conn.cursor() as cur:  # tuple rows while stepping past results nobody reads
                await cur.execute(script.encode())
                for _ in range(1 + len(statements)):
                    cur.nextset()  # past BEGIN, set_config and all but the last statement
                answered(conn)
                result = cur.pgresult  # its status, not ``description``, which builds every column's object
                if result is None or result.status != pq.ExecStatus.TUPLES_OK:
                    return []
                rows = cast("psycopg.AsyncCursor[Row]", cur)
                rows.row_factory = dict_row  # dicts for the last result only
                return await rows.fetchall()
        except psycopg.OperationalError as exc:
            # A connection the server dropped while idle (timeout, failover) never ran the script; one that
            # dropped during the round trip may have committed it, and only a replayable script is sent again.
            discard_connection()
            if not replayable:
                raise _outcome_unknown() from exc
            if attempt == 1:
                raise UpstreamUnavailable("database unavailable") from exc
        except psycopg.Error as exc:
            await _rollback(conn)
            raise translate(exc) from exc
    raise AppError("unreachable")  # pragma: no cover


def _outcome_unknown() -> OutcomeUnknown:
    """The error for a write whose connection was lost after it was sent; counted, so operators see how often."""
    logger.warning("database connection lost after a write was sent: outcome unknown")
    metrics.add_metric(name="WriteOutcomeUnknown", unit="Count", value=1)
    return OutcomeUnknown(OUTCOME_UNKNOWN)


def _binder(conn: psycopg.AsyncConnection[Any]) -> psycopg.AsyncClientCursor[Any]:
    """A client cursor on ``conn`` for ``mogrify`` only (never executed), kept while ``conn`` is the connection.

    ``mogrify`` is synchronous and starts from a fresh transformer each call, so one cursor serves every request.
    """
    global _BINDER
    binder = _BINDER
    if binder is None or binder[0] is not conn:
        binder = _BINDER = (conn, psycopg.AsyncClientCursor(conn))
    return binder[1]


def _opening(cursor: psycopg.AsyncClientCursor[Any], role: str, claims_json: str, settings: TransactionSettings) -> str:
    """``begin`` and the transaction's settings, bound client-side once per distinct caller."""
    key = (role, claims_json, _timeout(), settings)
    opening = _OPENINGS.get(key)
    if opening is None:
        opening = cursor.mogrify(_BEGIN_WITH_CONTEXT, key[:3])
        for name, value in settings:
            opening += cursor.mogrify(", set_config(%s, %s, true)", (name, value))
        if len(_OPENINGS) >= _OPENINGS_SIZE:
            _OPENINGS.pop(next(iter(_OPENINGS)))
        _OPENINGS[key] = opening
    return opening


def _timeout() -> str:
    return str(get_settings().db_statement_timeout_ms)


@asynccontextmanager
async def _transaction(role: str, claims_json: str, settings: TransactionSettings) -> AsyncIterator[Session]:
    session = Session(role, claims_json, settings)
    try:
        yield session
    except BaseException as exc:
        if session.connection is not None:
            await _rollback(session.connection)
        if isinstance(exc, psycopg.Error):
            raise translate(exc) from exc
        raise
    else:
        conn = session.connection
        if conn is None:
            return  # no statement ran: there is no transaction to commit
        try:
            await conn.execute("commit")
        except psycopg.OperationalError as exc:
            discard_connection()  # the commit was sent: whether the server applied it cannot be known here
            raise _outcome_unknown() from exc
        except psycopg.Error as exc:
            await _rollback(conn)
            raise translate(exc) from exc


async def _rollback(conn: psycopg.AsyncConnection[Any]) -> None:
    if conn.closed or conn.broken:
        discard_connection()
        return
    try:
        await conn.execute("rollback")
    except psycopg.Error:
        discard_connection()
