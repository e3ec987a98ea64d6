"""A Graph API outage never holds up a conversation: turns go on, sends keep their order and are retried."""

from __future__ import annotations

import logging

import pytest

from tests.integration.whatsapp.conftest import Worker
from tests.integration.whatsapp.fake_graph import FakeGraph
from tests.integration.whatsapp.helpers import Number, TurnQueue, new_phone, post, raw, text
from tests.support.api import LambdaApi

pytestmark = pytest.mark.integration
DOWN = (503, {"error": {"message": "Service temporarily unavailable", "code": 2, "type": "OAuthException"}})
SAID = ["Oi, vi o anúncio", "Meu nome é Ana Souza", "Meu email é ana@example.com"]


def test_graph_failing_five_times_delays_no_reply_and_sends_go_out_in_order(
    api: LambdaApi,
    number: Number,
    meta: FakeGraph,
    turns: TurnQueue,
    worker: Worker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given the Graph API failing its next five requests
    meta.answer(*[DOWN] * 5)
    lead = new_phone()
    caplog.set_level(logging.INFO)
    # when the lead keeps talking, and the worker takes one batch after each message
    answered_before_first_sent = []
    for said in SAID:
        assert post(api, raw(text(number.phone_number_id, lead, said))).status == 200
        turns.drain(worker, number.conversation(lead)["id"], rounds=1)
        replies = [m for m in number.messages(lead) if m["role"] == "assistant"]
        answered_before_first_sent.append((len(replies), replies[0]["status"]))
    # then every message was answered in its own round while the first reply still waited for Meta
    assert answered_before_first_sent == [(1, "queued"), (2, "queued"), (3, "queued")]
    # when the queue is worked until it is empty (each backoff as if it had passed)
    turns.drain(worker, number.conversation(lead)["id"])
    # then the three replies went out, in the order they were written, after five refused attempts
    replies = [m for m in number.messages(lead) if m["role"] == "assistant"]
    assert [m["status"] for m in replies] == ["sent"] * 3
    delivered = [r.body["text"]["body"] for r in meta.sent_to(lead)][5:]
    assert delivered == [m["content"] for m in replies]
    assert [m["channel_message_id"] for m in replies] == meta.wamids
    # and each failed attempt logged one warning, with no traceback anywhere
    retried = [r for r in caplog.records if r.getMessage() == "whatsapp send failed; will retry"]
    assert [r.levelno for r in retried] == [logging.WARNING] * 5
    assert not [r for r in caplog.records if r.exc_info]
