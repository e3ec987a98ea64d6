"""A turn's begin and finish are applied once, even when an answer is lost and ``shared.db`` sends the script again.

``shared.db`` sends a worker's script again, once, when its connection drops (a stale connection, or one
the network timeout dropped). A ``finish_turn`` that committed and whose answer was lost then ran again;
a ``begin_turn`` left its first reservation held until it expired. Here the real worker runs a real
turn, and the first such script commits on the real Postgres before its answer is "lost" (psycopg
raises the error a dropped connection raises), so the real retry runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from tests.integration.worker.conftest import Tenant, agent_with, conversation_with, sqs_event
from tests.support.lost_answer import answer_lost_once

pytestmark = pytest.mark.integration
Worker = Callable[[dict[str, Any]], dict[str, Any]]


def _replies(tenant: Tenant, conversation: uuid.UUID) -> list[dict[str, Any]]:
    return tenant.query(
        "select id from public.messages where conversation_id = %s and role = 'assistant'", conversation
    )


def _turn_whose_finish_answer_is_lost(tenant: Tenant, worker: Worker) -> tuple[uuid.UUID, bytes]:
    """A lead's message answered by the worker, the answer to its committed finish_turn lost once; the script."""
    conversation = tenant.conversation()
    message = tenant.lead_says(conversation, "Oi, me chamo Ana")
    with answer_lost_once("app.finish_turn") as lost:
        assert worker(sqs_event((conversation, message))) == {"batchItemFailures": []}
    assert len(lost) == 1  # the finish committed, then the retry sent the same script again
    return conversation, lost[0]


def test_given_a_finish_whose_answer_is_lost_when_it_is_sent_again_then_the_turn_is_applied_once(
    tenant: Tenant, worker: Worker
) -> None:
    # given a lead's message / when the worker runs its turn and the answer to its committed finish is lost once
    conversation, _ = _turn_whose_finish_answer_is_lost(tenant, worker)
    # then one reply, one ledger row, and the conversation's cost counted once
    assert len(_replies(tenant, conversation)) == 1
    [usage] = tenant.query("select cost_usd from public.llm_usage where conversation_id = %s", conversation)
    [row] = tenant.query("select cost_usd from public.conversations where id = %s", conversation)
    assert row["cost_usd"] == usage["cost_usd"]
    [reservation] = tenant.query(
        "select status, settled_usd from public.budget_reservations where conversation_id = %s", conversation
    )
    assert (reservation["status"], reservation["settled_usd"]) == ("settled", usage["cost_usd"])


def test_given_a_finished_turn_when_its_script_runs_again_then_it_answers_with_the_stored_reply(
    tenant: Tenant, worker: Worker
) -> None:
    # given a turn finished once, and the exact script its finish sent
    conversation, script = _turn_whose_finish_answer_is_lost(tenant, worker)
    [reply] = _replies(tenant, conversation)
    # when that script runs once more (a third time)
    with psycopg.connect(tenant.url, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(script)
        while cur.description is None or cur.description[0].name != "result":
            assert cur.nextset(), "the script returned no finish_turn result"
        [answer] = cur.fetchone() or (None,)
    # then it writes nothing and answers "replayed" with the reply stored the first time (the worker sends it)
    assert answer == {"status": "replayed", "reply_id": str(reply["id"])}
    assert len(tenant.query("select 1 from public.llm_usage where conversation_id = %s", conversation)) == 1
    assert len(_replies(tenant, conversation)) == 1


def test_given_a_begin_whose_answer_is_lost_when_it_is_sent_again_then_no_reservation_is_left_held(
    tenant: Tenant, worker: Worker
) -> None:
    # given a lead's message
    conversation = tenant.conversation()
    message = tenant.lead_says(conversation, "Oi, me chamo Bia")
    # when the worker runs its turn and the answer to its committed begin_turn is lost once
    with answer_lost_once("app.begin_turn") as lost:
        assert worker(sqs_event((conversation, message))) == {"batchItemFailures": []}
    assert len(lost) == 1  # the begin committed (and reserved), then the retry sent it again
    # then the turn is answered once, charged once
    assert len(_replies(tenant, conversation)) == 1
    [usage] = tenant.query("select cost_usd from public.llm_usage where conversation_id = %s", conversation)
    # and the first begin's reservation was released by the second, which the finish settled: none is held
    reservations = tenant.query(
        "select status, settled_usd from public.budget_reservations where conversation_id = %s order by created_at",
        conversation,
    )
    assert [(r["status"], r["settled_usd"]) for r in reservations] == [
        ("released", None),
        ("settled", usage["cost_usd"]),
    ]
    [budget] = tenant.query(
        "select reserved_usd from public.budgets where organization_id = %s and agent_id is null", tenant.org
    )
    assert budget["reserved_usd"] == 0


def test_given_a_fallback_reserve_whose_answer_is_lost_when_it_is_sent_again_then_no_reservation_is_left_held(
    tenant: Tenant, worker: Worker
) -> None:
    # given an agent on "smart" that falls back to "economy", and a budget that fits only economy
    agent = agent_with(tenant, model="smart", fallback_model="economy", on_budget_exhausted="fallback")
    tenant.set_budget("0.001")
    conversation = conversation_with(tenant, agent)
    message = tenant.lead_says(conversation, "Oi, me chamo Caio")
    # when the worker reserves for the fallback and the answer to that committed reserve is lost once
    with answer_lost_once("app.reserve_turn_budget") as lost:
        assert worker(sqs_event((conversation, message))) == {"batchItemFailures": []}
    assert len(lost) == 1
    # then the fallback answered, and the first reserve's reservation was released by the second
    [usage] = tenant.query("select alias, cost_usd from public.llm_usage where conversation_id = %s", conversation)
    assert usage["alias"] == "economy"
    reservations = tenant.query(
        "select alias, status from public.budget_reservations where conversation_id = %s order by created_at",
        conversation,
    )
    assert [(r["alias"], r["status"]) for r in reservations] == [("economy", "released"), ("economy", "settled")]
    [budget] = tenant.query(
        "select reserved_usd from public.budgets where organization_id = %s and agent_id is null", tenant.org
    )
    assert budget["reserved_usd"] == 0
