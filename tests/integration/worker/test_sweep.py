"""The sweep cron: what a crash or an SQS outage left behind is picked up again, and nothing else."""

from __future__ import annotations

import importlib
import json
from typing import Any

import psycopg
import pytest

from local_runtime.aws import sqs_client
from tests.integration.worker.conftest import Tenant
from tests.support.lambda_events import FakeLambdaContext, load_event

pytestmark = pytest.mark.integration


def _queued_bodies(aws: Any) -> list[dict[str, Any]]:
    sqs, queue = sqs_client(aws.endpoint), aws.queues["TurnQueue"]
    bodies = []
    while received := sqs.receive_message(QueueUrl=queue.url, MaxNumberOfMessages=10).get("Messages", []):
        for message in received:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue.url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def test_the_sweep_requeues_lost_turns_and_sends_and_releases_dead_reservations(tenant: Tenant, aws: Any) -> None:
    # given a lead message whose enqueue failed two minutes ago, and a fresh one that may still be on its way
    web, whatsapp = tenant.conversation(), tenant.conversation("whatsapp")
    with psycopg.connect(tenant.url, autocommit=True) as conn:

        def message(conversation: Any, role: str, status: str, age: str) -> str:
            row = conn.execute(
                "insert into public.messages (organization_id, conversation_id, role, content, status, created_at)"
                " values (%s, %s, %s, 'x', %s, now() - %s::interval) returning id",
                (tenant.org, conversation, role, status, age),
            ).fetchone()
            assert row is not None
            return str(row[0])

        stalled = message(web, "lead", "received", "2 minutes")
        fresh = message(web, "lead", "received", "1 second")
        # and a WhatsApp reply whose send job was lost, and a worker that died holding a reservation
        unsent = message(whatsapp, "assistant", "queued", "10 minutes")
        conn.execute(
            "insert into public.budget_reservations (organization_id, alias, amount_usd, expires_at)"
            " values (%s, 'fast', 0.01, now() - interval '1 minute')",
            (tenant.org,),
        )
    _queued_bodies(aws)  # start from an empty queue
    # when the cron runs on its schedule
    handler = importlib.import_module("functions.crons.sweep_turns.handler").handler
    summary = handler(load_event("eventbridge_scheduled.json"), FakeLambdaContext("sweepTurns"))
    # then the stalled turn and the lost send are queued again, the fresh message is left alone
    queued = {(b["type"], b["message_id"]) for b in _queued_bodies(aws)}
    assert ("turn", stalled) in queued
    assert ("send", unsent) in queued
    assert ("turn", fresh) not in queued
    assert summary["released_reservations"] >= 1
    [row] = tenant.query("select status from public.messages where id = %s", stalled)
    assert row["status"] == "queued"
    assert (
        tenant.query(
            "select 1 from public.budget_reservations where organization_id = %s and status = 'reserved'", tenant.org
        )
        == []
    )


def test_a_lost_send_is_re_sent_a_bounded_number_of_times_then_failed(tenant: Tenant, aws: Any) -> None:
    # given a WhatsApp reply whose send job was lost, and that has used every attempt but the last
    from shared.turns.sweep import requeue_unsent
    from shared.whatsapp.retries import MAX_SEND_ATTEMPTS
    from tests.support.aio import run

    whatsapp = tenant.conversation("whatsapp")
    [row] = tenant.query(
        "insert into public.messages (organization_id, conversation_id, role, content, status, created_at,"
        " send_attempts) values (%s, %s, 'assistant', 'x', 'queued', now() - interval '10 minutes', %s) returning id",
        tenant.org,
        whatsapp,
        MAX_SEND_ATTEMPTS - 2,
    )
    mine = {"type": "send", "message_id": str(row["id"])}
    _queued_bodies(aws)
    # when the sweep finds it lost twice
    run(requeue_unsent())
    first = _queued_bodies(aws)  # that job is lost too
    run(requeue_unsent())
    second = _queued_bodies(aws)
    # then it was re-sent once, and the second time failed with a problem and a message.failed event
    assert (mine in first, mine in second) == (True, False)
    [message] = tenant.query("select status, error from public.messages where id = %s", row["id"])
    assert message["status"] == "failed"
    assert message["error"]["type"] == "/problems/whatsapp-send-abandoned"
    [event] = tenant.query(
        "select payload from public.event_outbox where type = 'message.failed' and payload ->> 'message_id' = %s",
        str(row["id"]),
    )
    assert event["payload"]["attempts"] == MAX_SEND_ATTEMPTS
