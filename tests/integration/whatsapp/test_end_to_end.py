"""From Meta's webhook through the real turn worker (local model) to the fake Graph API, exactly once."""

from __future__ import annotations

import asyncio
import importlib
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from local_runtime.containers import retire_loop
from shared.whatsapp.signature import sign
from tests.integration.whatsapp.conftest import Worker
from tests.integration.whatsapp.fake_graph import FakeGraph
from tests.integration.whatsapp.helpers import (
    APP_SECRET,
    PATH,
    Number,
    TurnQueue,
    fifo_event,
    new_phone,
    post,
    raw,
    text,
)
from tests.support.api import LambdaApi
from tests.support.lambda_events import FakeLambdaContext, http_event

pytestmark = pytest.mark.integration
COPIES = 20


class Containers:
    """One event loop per copy, so each has its own DB connection and Redis client, like separate containers."""

    def __init__(self, copies: int) -> None:
        self.handler = importlib.import_module("functions.webhooks.whatsapp.handler").handler
        self.start = threading.Barrier(copies)
        self.loops: list[asyncio.AbstractEventLoop] = []
        self.lock = threading.Lock()

    def invoke(self, event: dict[str, Any]) -> int:
        loop = asyncio.new_event_loop()
        with self.lock:
            self.loops.append(loop)
        asyncio.set_event_loop(loop)  # Mangum runs on the thread's current loop
        self.start.wait()  # every copy is in flight at once
        return int(self.handler(event, FakeLambdaContext("whatsappWebhook"))["statusCode"])

    def retire(self) -> None:
        for loop in self.loops:
            retire_loop(loop)


def test_twenty_concurrent_copies_store_one_message_queue_one_turn_and_send_one_reply(
    number: Number, meta: FakeGraph, turns: TurnQueue, worker: Worker
) -> None:
    # given one signed delivery from a new lead
    lead = new_phone()
    body = raw(text(number.phone_number_id, lead, "Oi, meu nome é Carla e quero visitar o apartamento"))
    headers = {"x-hub-signature-256": sign(body, APP_SECRET)}
    event = http_event("POST", PATH, raw_body=body.decode(), headers=headers, route_key=f"POST {PATH}")
    # when Meta's retries make 20 copies of it arrive at once, in 20 containers
    containers = Containers(COPIES)
    try:
        with ThreadPoolExecutor(max_workers=COPIES) as pool:
            statuses = list(pool.map(containers.invoke, [event] * COPIES))
    finally:
        containers.retire()
    # then every copy is acknowledged, and exactly one message and one turn exist
    assert statuses == [200] * COPIES
    [message] = number.messages(lead)
    conversation = message["conversation_id"]
    assert len(number.query("select 1 from public.conversations where lead_id = %s", number.lead(lead)["id"])) == 1
    # when the turn queue is drained through the real turn worker
    handled = turns.drain(worker, conversation)
    # then one turn ran, and exactly one reply reached Meta, recorded as sent
    assert handled == 1
    [request] = meta.sent_to(lead)
    assert request.body["type"] == "text"
    [reply] = [m for m in number.messages(lead) if m["role"] == "assistant"]
    assert (reply["status"], reply["channel_message_id"], reply["reply_to"]) == ("sent", meta.wamids[0], message["id"])
    assert request.body["text"]["body"] == reply["content"]


def test_a_reply_meta_cannot_take_now_is_sent_by_a_queued_send_job_without_a_second_turn(
    api: LambdaApi, number: Number, meta: FakeGraph, turns: TurnQueue, worker: Worker
) -> None:
    # given a lead message, and Meta down while the turn runs
    lead = new_phone()
    post(api, raw(text(number.phone_number_id, lead, "Oi, quero saber o preço")))
    conversation = number.conversation(lead)["id"]
    meta.answer((500, {"error": {"message": "down", "code": 1}}))
    # when the turn is handled (one batch) / then the reply is stored, still queued, and a send job waits
    assert turns.drain(worker, conversation, rounds=1) == 1
    [reply] = [m for m in number.messages(lead) if m["role"] == "assistant"]
    assert reply["status"] == "queued"
    # when Meta is back and the queue is drained again (the send job)
    assert turns.drain(worker, conversation) == 1
    # then Meta accepted the reply once (after the refused attempt), and no second AI reply was written
    assert {r.body["text"]["body"] for r in meta.sent_to(lead)} == {reply["content"]}
    assert len(meta.wamids) == 1
    [sent] = [m for m in number.messages(lead) if m["role"] == "assistant"]
    assert (sent["status"], sent["channel_message_id"]) == ("sent", meta.wamids[0])
    assert len([m for m in number.messages(lead) if m["role"] == "assistant"]) == 1


def test_a_human_reply_on_whatsapp_is_sent_through_the_turn_queue(
    api: LambdaApi,
    number: Number,
    meta: FakeGraph,
    turns: TurnQueue,
    worker: Worker,
    make_member: Callable[[uuid.UUID, str], str],
) -> None:
    # given a WhatsApp conversation taken over by an editor
    lead = new_phone()
    post(api, raw(text(number.phone_number_id, lead, "Quero falar com alguém")))
    conversation = number.conversation(lead)["id"]
    turns.take(conversation)
    editor = make_member(number.org, "editor")
    assert api.call("POST", f"/conversations/{conversation}/takeover", token=editor).status == 200
    # when the editor replies
    reply = {"content": "Oi, sou a Bia!"}
    response = api.call("POST", f"/conversations/{conversation}/replies", token=editor, body=reply)
    assert response.status == 201, response.body
    # then a send job is queued in the conversation's send group, and the worker delivers it
    assert turns.drain(worker, conversation) == 1
    assert [r.body["text"]["body"] for r in meta.sent_to(lead)] == ["Oi, sou a Bia!"]
    [human] = [m for m in number.messages(lead) if m["role"] == "human"]
    assert (human["status"], human["channel_message_id"]) == ("sent", meta.wamids[0])


def test_a_send_job_for_an_unknown_or_finished_message_is_a_no_op(number: Number, worker: Worker) -> None:
    result = worker(fifo_event((uuid.uuid4(), {"type": "send", "message_id": str(uuid.uuid4())})))
    assert result == {"batchItemFailures": []}
