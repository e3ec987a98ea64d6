"""The turn worker: one reply per lead message, redelivery, debounce, takeover, the ledger."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from tests.integration.worker.conftest import Tenant, sqs_event

pytestmark = pytest.mark.integration
Worker = Callable[[dict[str, Any]], dict[str, Any]]


def _replies(tenant: Tenant, conversation: Any) -> list[dict[str, Any]]:
    return tenant.query(
        "select * from public.messages where conversation_id = %s and role = 'assistant' order by created_at",
        conversation,
    )


def test_a_turn_stores_one_reply_with_usage_and_settles_the_budget(tenant: Tenant, worker: Worker) -> None:
    # given a lead message in a bot conversation
    conversation = tenant.conversation()
    message = tenant.lead_says(conversation, "Oi, meu nome é Ana e meu e-mail é ana@example.com")
    # when the worker handles its queue message
    result = worker(sqs_event((conversation, message)))
    # then it reports no failure and stores exactly one AI reply, linked to the lead message
    assert result == {"batchItemFailures": []}
    [reply] = _replies(tenant, conversation)
    assert reply["reply_to"] == message
    assert reply["status"] == "sent"
    assert reply["model"]
    assert reply["tokens_in"] > 0
    assert reply["cost_usd"] > 0
    # and the lead data the model extracted is applied, with a ledger row and a settled reservation
    [lead] = tenant.query(
        "select l.* from public.leads l join public.conversations c on c.lead_id = l.id where c.id = %s", conversation
    )
    assert (lead["name"], lead["email"], lead["stage"]) == ("Ana", "ana@example.com", "engaged")
    [usage] = tenant.query("select * from public.llm_usage where message_id = %s", message)
    assert usage["cost_usd"] == reply["cost_usd"]
    assert usage["fallback_used"] is False
    [budget] = tenant.query("select * from public.budgets where organization_id = %s", tenant.org)
    assert (budget["spent_usd"], budget["reserved_usd"]) == (usage["cost_usd"], 0)
    [handled] = tenant.query("select status, error, handled_at from public.messages where id = %s", message)
    assert handled["handled_at"] is not None
    assert (handled["status"], handled["error"]) == ("read", None)


def test_a_redelivered_queue_message_produces_one_reply(tenant: Tenant, worker: Worker) -> None:
    # given a turn that was already answered
    conversation = tenant.conversation()
    message = tenant.lead_says(conversation, "Olá!")
    worker(sqs_event((conversation, message)))
    # when SQS delivers the same message again (at-least-once)
    result = worker(sqs_event((conversation, message), receive_count=2))
    # then nothing new is written and nothing is retried
    assert result == {"batchItemFailures": []}
    assert len(_replies(tenant, conversation)) == 1
    assert len(tenant.query("select 1 from public.llm_usage where conversation_id = %s", conversation)) == 1


def test_a_burst_of_lead_messages_is_answered_once(tenant: Tenant, worker: Worker) -> None:
    # given three quick lead messages, each queued
    conversation = tenant.conversation()
    messages = [tenant.lead_says(conversation, text) for text in ("Oi", "me chamo Bruno", "bruno@example.com")]
    # when the worker receives the batch
    worker(sqs_event(*[(conversation, m) for m in messages]))
    # then one reply answers all three, and every message is handled
    [reply] = _replies(tenant, conversation)
    assert reply["reply_to"] == messages[0]
    pending = tenant.query(
        "select 1 from public.messages where conversation_id = %s and role = 'lead' and handled_at is null",
        conversation,
    )
    assert pending == []
    [lead] = tenant.query(
        "select l.* from public.leads l join public.conversations c on c.lead_id = l.id where c.id = %s", conversation
    )
    assert (lead["name"], lead["email"]) == ("Bruno", "bruno@example.com")


def test_a_human_taking_over_mid_turn_means_no_ai_reply(
    tenant: Tenant, worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a lead message, and a human who takes over while the model is answering
    conversation = tenant.conversation()
    message = tenant.lead_says(conversation, "Quero falar sobre o apartamento")
    from shared.turns import service

    real_complete = service.complete

    async def complete_while_a_human_takes_over(*args: Any, **kwargs: Any) -> Any:
        with psycopg.connect(tenant.url, autocommit=True) as conn:
            conn.execute("update public.conversations set status = 'human' where id = %s", (conversation,))
        return await real_complete(*args, **kwargs)

    monkeypatch.setattr(service, "complete", complete_while_a_human_takes_over)
    # when the worker runs the turn
    result = worker(sqs_event((conversation, message)))
    # then no AI reply is stored, the cost is still accounted, and the message waits for the human
    assert result == {"batchItemFailures": []}
    assert _replies(tenant, conversation) == []
    assert len(tenant.query("select 1 from public.llm_usage where conversation_id = %s", conversation)) == 1
    [budget] = tenant.query("select reserved_usd from public.budgets where organization_id = %s", tenant.org)
    assert budget["reserved_usd"] == 0


def test_a_conversation_already_with_a_human_is_not_answered(tenant: Tenant, worker: Worker) -> None:
    # given a conversation a human has taken over
    conversation = tenant.conversation()
    message = tenant.lead_says(conversation, "Oi")
    with psycopg.connect(tenant.url, autocommit=True) as conn:
        conn.execute("update public.conversations set status = 'human' where id = %s", (conversation,))
    # when its queued message is handled / then the model is not called at all
    worker(sqs_event((conversation, message)))
    assert _replies(tenant, conversation) == []
    assert tenant.query("select 1 from public.llm_usage where conversation_id = %s", conversation) == []


def test_an_exhausted_budget_refuses_with_a_problem_on_the_message(tenant: Tenant, worker: Worker) -> None:
    # given a budget with nothing left and an agent that refuses when it runs out
    tenant.set_budget("0")
    conversation = tenant.conversation()
    message = tenant.lead_says(conversation, "Oi")
    # when the worker runs the turn
    result = worker(sqs_event((conversation, message)))
    # then no model call, no reply, and the message carries a budget problem (not retried)
    assert result == {"batchItemFailures": []}
    assert _replies(tenant, conversation) == []
    [row] = tenant.query("select status, error from public.messages where id = %s", message)
    assert row["status"] == "failed"
    assert row["error"]["type"].endswith("budget-exceeded")


def test_a_long_conversation_keeps_its_early_facts_in_a_rolling_summary(
    tenant: Tenant, worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a conversation longer than the 20-message history window, whose first message held a fact
    conversation = tenant.conversation()
    with psycopg.connect(tenant.url, autocommit=True) as conn:
        for i in range(30):
            text = "Tenho dois cachorros grandes" if i == 0 else f"mensagem {i}"
            conn.execute(
                "insert into public.messages (organization_id, conversation_id, role, content, status, handled_at,"
                " created_at) values (%s, %s, 'lead', %s, 'read', now(), now() - make_interval(mins => 60 - %s))",
                (tenant.org, conversation, text, i),
            )
    message = tenant.lead_says(conversation, "E então?")
    from shared.turns import service

    seen: list[list[dict[str, Any]]] = []
    real_complete = service.complete

    async def recording_complete(alias: str, messages: list[dict[str, Any]], **kwargs: Any) -> Any:
        seen.append(messages)
        return await real_complete(alias, messages, **kwargs)

    monkeypatch.setattr(service, "complete", recording_complete)
    # when the worker runs the turn
    worker(sqs_event((conversation, message)))
    # then the model sees the last 20 messages, and the early fact through the summary in its system prompt
    [messages] = seen
    assert len(messages) == 1 + 20
    assert "Tenho dois cachorros grandes" not in [m["content"] for m in messages[1:]]
    assert "Earlier, the lead said: Tenho dois cachorros grandes" in messages[0]["content"]
