"""Follow-ups end to end: the cron plans and claims, the worker re-checks under the row lock and sends once."""

from __future__ import annotations

import asyncio
import importlib
import json
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from local_runtime.aws import sqs_client
from shared.followups import service
from tests.integration.worker.conftest import Tenant
from tests.support.aio import use_container_loop
from tests.support.lambda_events import FakeLambdaContext, load_event

pytestmark = pytest.mark.integration

SEQUENCE = {
    "enabled": True,
    "steps": [
        {"after_minutes": 60, "kind": "text", "text": "Ainda por aí? Posso ajudar com a visita."},
        {"after_minutes": 1440, "kind": "text", "text": "Última chamada para a visita!"},
    ],
    "quiet_hours": {"start": "00:00", "end": "00:01"},
    "business_days": [1, 2, 3, 4, 5, 6, 7],
}


def _drain(aws: Any) -> list[tuple[str, dict[str, Any]]]:
    sqs, queue = sqs_client(aws.endpoint), aws.queues["TurnQueue"]
    out = []
    while received := sqs.receive_message(
        QueueUrl=queue.url, MaxNumberOfMessages=10, AttributeNames=["MessageGroupId"]
    ).get("Messages", []):
        for message in received:
            out.append((message["Attributes"]["MessageGroupId"], json.loads(message["Body"])))
            sqs.delete_message(QueueUrl=queue.url, ReceiptHandle=message["ReceiptHandle"])
    return out


def _with_sequence(tenant: Tenant, follow_up: dict[str, Any]) -> None:
    with psycopg.connect(tenant.url, autocommit=True) as conn:
        conn.execute(
            "update public.agent_versions set config = jsonb_set(config, '{follow_up}', %s::jsonb) where agent_id = %s",
            (json.dumps(follow_up), tenant.agent),
        )


def _silent_since(tenant: Tenant, conversation: uuid.UUID, ago: timedelta) -> None:
    """The lead wrote ``ago`` and the bot answered: a silence began then, and no planning pass has run since."""
    with psycopg.connect(tenant.url, autocommit=True) as conn:
        at = datetime.now(UTC) - ago
        conn.execute("update app.cron_watermarks set at = least(at, %s)", (at,))
        conn.execute(
            "insert into public.messages (organization_id, conversation_id, role, content, status, created_at,"
            " handled_at) values (%s, %s, 'lead', 'oi', 'read', %s, %s)",
            (tenant.org, conversation, at, at),
        )
        conn.execute("update public.conversations set last_message_at = %s where id = %s", (at, conversation))


def _run(coro: Any) -> Any:
    use_container_loop()
    return asyncio.get_event_loop().run_until_complete(coro)


def test_a_due_step_is_claimed_onto_the_conversation_group_and_sent_once(
    tenant: Tenant, aws: Any, worker: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    # given a web conversation silent for 62 minutes, under a two-step sequence, planned by an earlier run
    _with_sequence(tenant, SEQUENCE)
    conversation = tenant.conversation()
    _silent_since(tenant, conversation, timedelta(minutes=62))
    assert _run(service.plan(datetime.now(UTC) - timedelta(minutes=30))) >= 1
    _drain(aws)
    # when the cron runs on its schedule
    handler = importlib.import_module("functions.crons.follow_ups.handler").handler
    summary = handler(load_event("eventbridge_scheduled.json"), FakeLambdaContext("followUps"))
    # then step 0 is claimed and queued in the conversation's own group
    assert summary["claimed"] >= 1
    jobs = [(g, b) for g, b in _drain(aws) if g == str(conversation)]
    assert [b["type"] for _, b in jobs] == ["follow_up"]
    # when the worker runs the job twice (a redelivery)
    event = load_event("sqs_fifo.json")
    event["Records"][0].update(body=json.dumps(jobs[0][1]))
    event["Records"][0]["attributes"]["MessageGroupId"] = str(conversation)
    worker(event)
    worker(event)
    # then the text was stored once, the step is sent, and step 1 is scheduled 24 h after the silence began
    rows = tenant.query(
        "select step, status, kind, message_id, due_at from public.follow_ups where conversation_id = %s order by step",
        conversation,
    )
    assert [(r["step"], r["status"], r["kind"]) for r in rows] == [(0, "sent", "text"), (1, "scheduled", None)]
    texts = tenant.query(
        "select content from public.messages where conversation_id = %s and role = 'assistant'", conversation
    )
    assert [t["content"] for t in texts] == [SEQUENCE["steps"][0]["text"]]


def test_a_lead_message_arriving_while_the_job_is_queued_stops_the_step(tenant: Tenant, aws: Any) -> None:
    # given a step claimed for a silent conversation
    _with_sequence(tenant, SEQUENCE)
    conversation = tenant.conversation()
    _silent_since(tenant, conversation, timedelta(minutes=90))
    now = datetime.now(UTC)
    _run(service.plan(now))
    claimed = [q for q in _run(service.claim(now + timedelta(minutes=1))) if q.conversation_id == conversation]
    assert len(claimed) == 1
    # when the lead writes before the worker runs it
    tenant.lead_says(conversation, "voltei!")
    outcome = _run(service.apply_follow_up(claimed[0].job.message_id, now + timedelta(minutes=1, seconds=5)))
    # then nothing is sent and the stop reason is stored
    assert (outcome.status, outcome.reason) == ("stopped", "lead_replied")
    rows = tenant.query("select status, reason from public.follow_ups where conversation_id = %s", conversation)
    assert rows == [{"status": "stopped", "reason": "lead_replied"}]
    assert not tenant.query(
        "select 1 from public.messages where conversation_id = %s and role = 'assistant'", conversation
    )


def test_a_takeover_stops_the_step_and_whatsapp_without_a_template_skips(tenant: Tenant, aws: Any) -> None:
    # given two silent conversations: one a human took over, one on WhatsApp with its window closed, no template
    _with_sequence(tenant, SEQUENCE)
    taken, whatsapp = tenant.conversation(), tenant.conversation("whatsapp")
    for conversation in (taken, whatsapp):
        _silent_since(tenant, conversation, timedelta(hours=25))
    with psycopg.connect(tenant.url, autocommit=True) as conn:
        conn.execute("update public.conversations set status = 'human' where id = %s", (taken,))
    now = datetime.now(UTC)
    _run(service.plan(now))
    with psycopg.connect(tenant.url, autocommit=True) as conn:  # the takeover happened after planning
        conn.execute("update public.conversations set status = 'human' where id = %s", (taken,))
    later = now + timedelta(minutes=1)
    mine = [q for q in _run(service.claim(later, limit=10_000)) if q.conversation_id in (taken, whatsapp)]
    outcomes = {q.conversation_id: _run(service.apply_follow_up(q.job.message_id, later)) for q in mine}
    # then the taken-over step stops, the WhatsApp step is skipped with the reason and the next one scheduled
    assert (outcomes[whatsapp].status, outcomes[whatsapp].reason) == ("skipped", "window_closed_no_template")
    assert taken not in outcomes or outcomes[taken].reason == "taken_over"
    steps = tenant.query(
        "select step, status from public.follow_ups where conversation_id = %s order by step", whatsapp
    )
    assert steps == [{"step": 0, "status": "skipped"}, {"step": 1, "status": "scheduled"}]


def test_two_crons_at_the_same_time_never_claim_the_same_step(tenant: Tenant, app_env: dict[str, str]) -> None:
    # given 400 due steps
    _with_sequence(tenant, SEQUENCE)
    now = datetime.now(UTC)
    with psycopg.connect(tenant.url, autocommit=True) as conn:
        lead_ids = [
            r[0]
            for r in conn.execute(
                "insert into public.leads (organization_id) select %s from generate_series(1, 400) returning id",
                (tenant.org,),
            ).fetchall()
        ]
        conn.execute(
            "with c as (insert into public.conversations (organization_id, agent_id, agent_version, lead_id, channel)"
            " select %s, %s, 1, l, 'web' from unnest(%s::uuid[]) l returning id, lead_id)"
            " insert into public.follow_ups (organization_id, conversation_id, lead_id, step, anchor_at, due_at,"
            " time_zone) select %s, c.id, c.lead_id, 0, %s, %s, 'UTC' from c",
            (tenant.org, tenant.agent, lead_ids, tenant.org, now - timedelta(hours=2), now - timedelta(minutes=1)),
        )
    # when two cron invocations claim at once, each on its own connection and thread, in small batches
    results: list[list[uuid.UUID]] = [[], []]
    barrier = threading.Barrier(2)

    def cron(index: int) -> None:
        loop = asyncio.new_event_loop()
        barrier.wait()
        try:
            while batch := loop.run_until_complete(service.claim(now, limit=25)):
                results[index].extend(q.job.message_id for q in batch)
        finally:
            from shared.lifecycle import close_clients

            loop.run_until_complete(close_clients())
            loop.close()

    threads = [threading.Thread(target=cron, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # then every step was claimed exactly once, by one of them
    mine = {
        r["id"]
        for r in tenant.query("select id from public.follow_ups where organization_id = %s and claims = 1", tenant.org)
    }
    claimed = [i for i in results[0] + results[1] if i in mine]
    assert len(claimed) == len(set(claimed)) == 400
    assert not set(results[0]) & set(results[1])


def test_a_model_step_is_a_turn_with_the_follow_up_instruction(
    tenant: Tenant, aws: Any, worker: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    # given a silent web conversation whose first step is a model-written nudge
    _with_sequence(tenant, {**SEQUENCE, "steps": [{"after_minutes": 60, "instruction": "Lembre da visita."}]})
    conversation = tenant.conversation()
    _silent_since(tenant, conversation, timedelta(minutes=90))
    now = datetime.now(UTC)
    _run(service.plan(now))
    later = now + timedelta(minutes=1)
    claimed = [q for q in _run(service.claim(later, limit=10_000)) if q.conversation_id == conversation]
    # when the worker runs the step
    outcome = _run(service.apply_follow_up(claimed[0].job.message_id, later))
    # then it is recorded as sent, as a turn job in the conversation's group carrying the instruction
    assert (outcome.status, outcome.kind) == ("sent", "model")
    [job] = outcome.jobs
    assert job.group_id == str(conversation)
    assert job.job.model_dump()["instruction"] == "Lembre da visita."
    # and when that turn runs, the model writes the nudge as a reply to the step's message, charged like any turn
    event = load_event("sqs_fifo.json")
    event["Records"][0].update(body=job.job.model_dump_json())
    event["Records"][0]["attributes"]["MessageGroupId"] = str(conversation)
    worker(event)
    replies = tenant.query(
        "select content, reply_to, cost_usd from public.messages where conversation_id = %s and role = 'assistant'",
        conversation,
    )
    assert len(replies) == 1
    assert replies[0]["reply_to"] == outcome.message_id
    assert replies[0]["content"]


MODEL_STEPS = {
    **SEQUENCE,
    "steps": [
        {"after_minutes": 60, "instruction": "Lembre da visita."},
        {"after_minutes": 1440, "kind": "text", "text": "Última chamada para a visita!"},
    ],
}


def _claimed_model_step(tenant: Tenant, conversation: uuid.UUID) -> Any:
    """Plan, claim and apply step 0 (a model-written nudge) of a silent conversation: its turn job, not yet run."""
    _silent_since(tenant, conversation, timedelta(minutes=90))
    now = datetime.now(UTC)
    _run(service.plan(now))
    later = now + timedelta(minutes=1)
    [claimed] = [q for q in _run(service.claim(later, limit=10_000)) if q.conversation_id == conversation]
    outcome = _run(service.apply_follow_up(claimed.job.message_id, later))
    assert (outcome.status, outcome.kind) == ("sent", "model")
    [job] = outcome.jobs
    return job


def _turn_event(job: Any) -> dict[str, Any]:
    event = load_event("sqs_fifo.json")
    event["Records"][0].update(body=job.job.model_dump_json())
    event["Records"][0]["attributes"]["MessageGroupId"] = job.group_id
    return event


def _steps(tenant: Tenant, conversation: uuid.UUID) -> list[tuple[int, str, str | None]]:
    rows = tenant.query(
        "select step, status, reason from public.follow_ups where conversation_id = %s order by anchor_at, step",
        conversation,
    )
    return [(r["step"], r["status"], r["reason"]) for r in rows]


def _assistant(tenant: Tenant, conversation: uuid.UUID) -> list[dict[str, Any]]:
    return tenant.query(
        "select id, content, reply_to from public.messages where conversation_id = %s and role = 'assistant'",
        conversation,
    )


def test_a_lead_message_stored_while_the_model_step_is_queued_stops_its_turn(
    tenant: Tenant, aws: Any, worker: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    # given a model-written step claimed and applied: its turn is on the queue
    _with_sequence(tenant, MODEL_STEPS)
    conversation = tenant.conversation()
    job = _claimed_model_step(tenant, conversation)
    # and the lead writes before the worker runs that turn
    lead_message = tenant.lead_says(conversation, "voltei, ainda quero a visita")
    # when the worker runs the follow-up's turn
    assert worker(_turn_event(job)) == {"batchItemFailures": []}
    # then no model is called and nothing is stored or sent; the step and the rest of its silence stop
    assert _assistant(tenant, conversation) == []
    assert tenant.query("select 1 from public.llm_usage where conversation_id = %s", conversation) == []
    assert _steps(tenant, conversation) == [(0, "stopped", "lead_replied"), (1, "stopped", "lead_replied")]
    [budget] = tenant.query(
        "select reserved_usd from public.budgets where organization_id = %s and agent_id is null", tenant.org
    )
    assert budget["reserved_usd"] == 0
    # and the lead's message still waits for the lead's own turn, which answers it
    [pending] = tenant.query("select handled_at from public.messages where id = %s", lead_message)
    assert pending["handled_at"] is None
    from tests.integration.worker.conftest import sqs_event

    worker(sqs_event((conversation, lead_message)))
    assert [r["reply_to"] for r in _assistant(tenant, conversation)] == [lead_message]
    # and the new silence starts the sequence over from step 0 (restart_on_reply)
    assert _run(service.plan(datetime.now(UTC) + timedelta(minutes=1))) >= 1
    assert _steps(tenant, conversation)[-1] == (0, "scheduled", None)


def test_a_lead_message_stored_while_the_model_writes_the_step_stops_it_in_finish_turn(
    tenant: Tenant, aws: Any, worker: Callable[[dict[str, Any]], dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a model-written step whose turn is queued
    _with_sequence(tenant, MODEL_STEPS)
    conversation = tenant.conversation()
    job = _claimed_model_step(tenant, conversation)
    from shared.turns import service as turns

    real_complete = turns.complete
    written: list[uuid.UUID] = []

    async def complete_while_the_lead_writes(*args: Any, **kwargs: Any) -> Any:
        written.append(tenant.lead_says(conversation, "oi, cheguei"))  # after begin_turn, before finish_turn
        return await real_complete(*args, **kwargs)

    monkeypatch.setattr(turns, "complete", complete_while_the_lead_writes)
    # when the worker runs the turn, and the lead writes while the model answers
    assert worker(_turn_event(job)) == {"batchItemFailures": []}
    # then finish_turn, under the row lock, stores no reply: the model's cost is accounted, the step stopped
    assert len(written) == 1
    assert _assistant(tenant, conversation) == []
    assert len(tenant.query("select 1 from public.llm_usage where conversation_id = %s", conversation)) == 1
    assert _steps(tenant, conversation) == [(0, "stopped", "lead_replied"), (1, "stopped", "lead_replied")]
    [pending] = tenant.query("select handled_at from public.messages where id = %s", written[0])
    assert pending["handled_at"] is None
    # and a redelivery of the same turn calls no model again
    monkeypatch.setattr(turns, "complete", real_complete)
    worker(_turn_event(job))
    assert len(tenant.query("select 1 from public.llm_usage where conversation_id = %s", conversation)) == 1


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("update public.leads set consent = false where id = %s returning id", "opted_out"),
        ("update public.leads set stage = 'converted' where id = %s returning id", "converted"),
        ("update public.leads set stage = 'lost' where id = %s returning id", "lost"),
    ],
    ids=["opt-out", "conversion", "loss"],
)
def test_an_opt_out_or_outcome_landing_while_the_model_writes_the_step_stops_it_in_finish_turn(
    tenant: Tenant,
    aws: Any,
    worker: Callable[[dict[str, Any]], dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    change: str,
    reason: str,
) -> None:
    # given a model-written step whose turn is queued
    _with_sequence(tenant, MODEL_STEPS)
    conversation = tenant.conversation()
    job = _claimed_model_step(tenant, conversation)
    [lead] = tenant.query("select lead_id from public.conversations where id = %s", conversation)
    from shared.turns import service as turns

    real_complete = turns.complete

    async def complete_while_the_lead_changes(*args: Any, **kwargs: Any) -> Any:
        tenant.query(change, lead["lead_id"])  # a keyword or a CRM webhook, after begin_turn, before finish_turn
        return await real_complete(*args, **kwargs)

    monkeypatch.setattr(turns, "complete", complete_while_the_lead_changes)
    # when the worker runs the turn, and the lead opts out, converts or is lost while the model writes
    assert worker(_turn_event(job)) == {"batchItemFailures": []}
    # then finish_turn, under the row lock, stores and sends no reply, and the sequence stops with the reason
    assert _assistant(tenant, conversation) == []
    assert _steps(tenant, conversation) == [(0, "stopped", reason), (1, "stopped", reason)]


@pytest.mark.parametrize("on_exhausted", ["refuse", "handoff"])
def test_a_model_step_whose_reservation_fails_stops_with_budget_exhausted(
    tenant: Tenant, aws: Any, worker: Callable[[dict[str, Any]], dict[str, Any]], on_exhausted: str
) -> None:
    # given a model-written step claimed while the organization still had budget, of an agent with no fallback
    _with_sequence(tenant, MODEL_STEPS)
    with psycopg.connect(tenant.url, autocommit=True) as conn:
        conn.execute(
            "update public.agent_versions set config = config - 'fallback_model'"
            " || jsonb_build_object('on_budget_exhausted', %s::text) where agent_id = %s",
            (on_exhausted, tenant.agent),
        )
    conversation = tenant.conversation()
    job = _claimed_model_step(tenant, conversation)
    # and the budget runs out before its turn reserves
    tenant.set_budget("0")
    # when the worker runs the turn
    assert worker(_turn_event(job)) == {"batchItemFailures": []}
    # then the sequence stops with budget_exhausted: no model call, no reply, no handoff of a silent lead
    assert _steps(tenant, conversation) == [(0, "stopped", "budget_exhausted"), (1, "stopped", "budget_exhausted")]
    assert _assistant(tenant, conversation) == []
    assert tenant.query("select 1 from public.llm_usage where conversation_id = %s", conversation) == []
    [conv] = tenant.query("select status::text from public.conversations where id = %s", conversation)
    assert conv["status"] == "bot"


def test_a_planning_pass_looks_back_only_to_its_last_complete_pass(tenant: Tenant, aws: Any) -> None:
    # given a silence of 3 hours, planned by a complete pass
    _with_sequence(tenant, SEQUENCE)
    planned = tenant.conversation()
    _silent_since(tenant, planned, timedelta(hours=3))
    now = datetime.now(UTC)
    _run(service.plan(now))
    assert _steps(tenant, planned) == [(0, "scheduled", None)]
    # and, after that pass, a conversation whose activity lies 3 hours back (only a rewound clock does that)
    # and one active 30 minutes back (within the grace: its lead message was answered late)
    with psycopg.connect(tenant.url, autocommit=True) as conn:
        [mark] = conn.execute("select at from app.cron_watermarks where name = 'follow_up_planner'").fetchall()
        assert mark[0] == now
    behind, late = tenant.conversation(), tenant.conversation()
    for conversation, ago in ((behind, timedelta(hours=3)), (late, timedelta(minutes=30))):
        with psycopg.connect(tenant.url, autocommit=True) as conn:
            conn.execute(
                "update public.conversations set last_message_at = %s where id = %s", (now - ago, conversation)
            )
    # when the next cron run plans a minute later
    _run(service.plan(now + timedelta(minutes=1)))
    # then it looked back one hour before its last pass, not 30 days: the late one is planned, history is not
    assert _steps(tenant, late) == [(0, "scheduled", None)]
    assert _steps(tenant, behind) == []


def test_a_paused_conversation_gets_a_paused_step(tenant: Tenant, aws: Any) -> None:
    # given a silent conversation an operator paused before any step was planned
    _with_sequence(tenant, SEQUENCE)
    conversation = tenant.conversation()
    _silent_since(tenant, conversation, timedelta(minutes=90))
    with psycopg.connect(tenant.url, autocommit=True) as conn:
        conn.execute(
            "update public.conversations set metadata = metadata || '{\"follow_ups_paused\": true}' where id = %s",
            (conversation,),
        )
    # when the planner runs / then its first step is planned paused, not skipped past by the watermark
    _run(service.plan(datetime.now(UTC)))
    assert _steps(tenant, conversation) == [(0, "paused", "paused")]
    # and the cron does not claim it while paused (public.set_follow_ups('resume') schedules paused steps:
    # tests/integration/api/test_follow_ups_api.py)
    later = datetime.now(UTC) + timedelta(minutes=1)
    assert not [q for q in _run(service.claim(later, limit=10_000)) if q.conversation_id == conversation]


def test_a_takeover_while_the_model_step_is_queued_stops_it_without_a_model_call(
    tenant: Tenant, aws: Any, worker: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    # given a model-written step whose turn is queued, and a human who takes over before it runs
    _with_sequence(tenant, MODEL_STEPS)
    conversation = tenant.conversation()
    job = _claimed_model_step(tenant, conversation)
    with psycopg.connect(tenant.url, autocommit=True) as conn:
        conn.execute("update public.conversations set status = 'human' where id = %s", (conversation,))
    # when the worker runs the turn
    assert worker(_turn_event(job)) == {"batchItemFailures": []}
    # then no model is called, nothing is stored, and the step's history says why instead of "sent"
    assert _assistant(tenant, conversation) == []
    assert tenant.query("select 1 from public.llm_usage where conversation_id = %s", conversation) == []
    assert _steps(tenant, conversation)[0] == (0, "stopped", "taken_over")
