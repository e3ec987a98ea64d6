"""SnapStart restore, simulated: init the worker, run a turn, run the runtime hooks, and run another turn.

The hooks are the ones the worker registers with ``snapshot_restore_py`` in Lambda; here they are
called directly, in the order Lambda calls them around a snapshot.
"""

from __future__ import annotations

import random
from typing import Any

from shared import snapstart
from shared.clients import http, redis
from shared.db import connection
from tests.integration.worker.conftest import Tenant, sqs_event
from tests.support.aio import run


def _clients() -> dict[str, Any]:
    async def peek() -> dict[str, Any]:
        return {
            "db": connection._connection.peek(),
            "redis": redis._redis.peek(),
            "http": http._client.peek(),
        }

    return run(peek())


def test_after_a_restore_the_worker_rebuilds_its_clients_and_still_answers(tenant: Tenant, worker: Any) -> None:
    # given the worker initialised and warm: a turn ran, so it holds a database connection
    conversation = tenant.conversation()
    first = tenant.lead_says(conversation, "Oi, meu nome é Ana")
    assert worker(sqs_event((conversation, first))) == {"batchItemFailures": []}
    before = _clients()
    assert before["db"] is not None
    assert not before["db"].closed

    # when Lambda snapshots it and restores it
    snapstart.before_snapshot()
    snapshotted = _clients()
    snapstart.after_restore()

    # then nothing with a socket went into the snapshot: the connection was closed, the clients forgotten
    assert before["db"].closed
    assert snapshotted == {"db": None, "redis": None, "http": None}
    # and the next turn works, on a new connection
    second = tenant.lead_says(conversation, "meu e-mail é ana@example.com")
    assert worker(sqs_event((conversation, second))) == {"batchItemFailures": []}
    after = _clients()
    assert after["db"] is not None
    assert after["db"] is not before["db"]
    assert not after["db"].closed
    replies = tenant.query(
        "select reply_to from public.messages where conversation_id = %s and role = 'assistant'", conversation
    )
    assert {r["reply_to"] for r in replies} == {first, second}


def test_each_restored_environment_draws_its_own_random_sequence(app_env: dict[str, str]) -> None:
    # given the random state captured in a snapshot
    snapshot_state = random.getstate()
    # when two environments are restored from it, each running the restore hook
    draws = []
    for _ in range(2):
        random.setstate(snapshot_state)
        snapstart.after_restore()
        draws.append([random.random() for _ in range(4)])
    # then they do not share a sequence (without the hook both would replay the snapshot's)
    random.setstate(snapshot_state)
    replayed = [random.random() for _ in range(4)]
    assert draws[0] != draws[1]
    assert replayed not in draws


def test_a_restore_resolves_settings_again(app_env: dict[str, str], monkeypatch: Any) -> None:
    # given settings loaded before the snapshot
    from shared.settings import get_settings

    before = get_settings()
    # when a value changed while the snapshot waited, and the environment is restored
    monkeypatch.setenv("DB_STATEMENT_TIMEOUT_MS", str(before.db_statement_timeout_ms + 1))
    snapstart.after_restore()
    # then the restored function reads it afresh
    assert get_settings().db_statement_timeout_ms == before.db_statement_timeout_ms + 1
    monkeypatch.delenv("DB_STATEMENT_TIMEOUT_MS")
    get_settings.cache_clear()


def test_outside_lambda_there_is_no_runtime_to_register_with() -> None:
    # given this interpreter (no snapshot_restore_py: it ships only in Lambda's runtimes)
    # when / then registration reports it did nothing
    assert snapstart.register_hooks() is False
