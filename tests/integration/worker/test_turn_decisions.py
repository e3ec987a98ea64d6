"""Decisions the turn makes in Python before and after the model call: the budget policy, an
undeliverable reply, and the cost of a turn in database round trips."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest

from tests.integration.worker.conftest import Tenant, agent_with, conversation_with, sqs_event

pytestmark = pytest.mark.integration
Worker = Callable[[dict[str, Any]], dict[str, Any]]


def test_an_agent_that_falls_back_answers_with_its_cheaper_alias_when_the_budget_is_short(
    tenant: Tenant, worker: Worker
) -> None:
    # given an agent on "smart" that falls back to "economy", and a budget that fits only economy
    agent = agent_with(tenant, model="smart", fallback_model="economy", on_budget_exhausted="fallback")
    tenant.set_budget("0.001")
    conversation = conversation_with(tenant, agent)
    message = tenant.lead_says(conversation, "Oi, me chamo Ana")
    # when the turn runs
    assert worker(sqs_event((conversation, message))) == {"batchItemFailures": []}
    # then the reply came from the fallback alias, reserved and settled on it
    [usage] = tenant.query("select alias from public.llm_usage where conversation_id = %s", conversation)
    assert usage["alias"] == "economy"
    [reservation] = tenant.query(
        "select alias, status from public.budget_reservations where conversation_id = %s", conversation
    )
    assert (reservation["alias"], reservation["status"]) == ("economy", "settled")


def test_an_agent_that_hands_off_gives_the_conversation_to_a_human_without_a_model_call(
    tenant: Tenant, worker: Worker
) -> None:
    agent = agent_with(tenant, on_budget_exhausted="handoff")
    tenant.set_budget("0")
    conversation = conversation_with(tenant, agent)
    message = tenant.lead_says(conversation, "Oi")
    worker(sqs_event((conversation, message)))
    [row] = tenant.query("select status from public.conversations where id = %s", conversation)
    assert row["status"] == "human"
    assert tenant.query("select 1 from public.llm_usage where conversation_id = %s", conversation) == []


@pytest.mark.parametrize(
    ("window_open", "consent", "problem"),
    [(False, True, "/problems/whatsapp-window-closed"), (True, False, "/problems/whatsapp-opted-out")],
    ids=["window-closed-no-template", "opted-out"],
)
def test_an_undeliverable_reply_costs_no_model_call_and_says_why(
    tenant: Tenant, worker: Worker, window_open: bool, consent: bool, problem: str
) -> None:
    # given a WhatsApp conversation whose reply could not be sent (the agent has no template)
    conversation = conversation_with(tenant, tenant.agent, "whatsapp", window_open)
    with psycopg.connect(tenant.url, autocommit=True) as conn:
        conn.execute(
            "update public.leads set consent = %s where id = (select lead_id from public.conversations where id = %s)",
            (consent, conversation),
        )
    message = tenant.lead_says(conversation, "Oi, ainda tem o apartamento?")
    # when the turn runs
    assert worker(sqs_event((conversation, message))) == {"batchItemFailures": []}
    # then no model was called, nothing was charged, and the message keeps the reason
    assert tenant.query("select 1 from public.llm_usage where conversation_id = %s", conversation) == []
    assert (
        tenant.query("select 1 from public.messages where conversation_id = %s and role = 'assistant'", conversation)
        == []
    )
    [budget] = tenant.query(
        "select spent_usd, reserved_usd from public.budgets where organization_id = %s and agent_id is null", tenant.org
    )
    assert (budget["spent_usd"], budget["reserved_usd"]) == (0, 0)
    [row] = tenant.query("select handled_at, error from public.messages where id = %s", message)
    assert row["error"]["type"] == problem
    assert row["handled_at"] is not None


@contextmanager
def _statements() -> Iterator[list[str]]:
    """Every statement the process sends to Postgres (one round trip each)."""
    sent: list[str] = []
    original = psycopg.AsyncCursor.execute

    async def counted(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(str(query)[:80])
        return await original(self, query, *args, **kwargs)

    psycopg.AsyncCursor.execute = counted  # type: ignore[method-assign]
    try:
        yield sent
    finally:
        psycopg.AsyncCursor.execute = original  # type: ignore[method-assign]


def test_a_turn_takes_two_database_round_trips(tenant: Tenant, worker: Worker) -> None:
    # given a warm worker (its connection and Router built by a first turn)
    warm = tenant.conversation()
    worker(sqs_event((warm, tenant.lead_says(warm, "Oi"))))
    conversation = tenant.conversation()
    message = tenant.lead_says(conversation, "Oi, me chamo Ana")
    # when a turn runs
    with _statements() as sent:
        worker(sqs_event((conversation, message)))
    # then it sent two statements: begin_turn and finish_turn
    assert len(sent) == 2, sent
    assert (
        len(
            tenant.query(
                "select 1 from public.messages where conversation_id = %s and role = 'assistant'", conversation
            )
        )
        == 1
    )
