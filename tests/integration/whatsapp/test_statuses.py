"""Status callbacks: our message only moves forward (failed is terminal), and every callback is kept."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from shared.whatsapp.outbound import send_stored_message
from tests.integration.whatsapp.conftest import connect_number
from tests.integration.whatsapp.fake_graph import FakeGraph
from tests.integration.whatsapp.helpers import Number, delivery, new_phone, post, raw, text
from tests.integration.worker.conftest import AGENT_CONFIG
from tests.support.aio import run
from tests.support.api import LambdaApi

pytestmark = pytest.mark.integration


def _sent_reply(api: LambdaApi, number: Number, meta: FakeGraph) -> tuple[uuid.UUID, str]:
    """A lead wrote; our reply went out and Meta gave it a wamid."""
    lead = new_phone()
    post(api, raw(text(number.phone_number_id, lead, "Oi")))
    reply = number.outbound(lead, "Olá! Como posso ajudar?")
    assert run(send_stored_message(reply)) == "sent"
    return reply, meta.wamids[-1]


def _callback(number: Number, status: str, wamid: str, **fields: Any) -> bytes:
    data = delivery(f"status_{status}.json", number.phone_number_id)
    data["entry"][0]["changes"][0]["value"]["statuses"][0].update(id=wamid, **fields)
    return raw(data)


def _history(number: Number, wamid: str) -> list[dict[str, Any]]:
    return number.query(
        "select * from public.message_status_events where channel_message_id = %s order by occurred_at", wamid
    )


def test_sent_delivered_read_move_the_message_forward(api: LambdaApi, number: Number, meta: FakeGraph) -> None:
    # given a reply Meta accepted
    reply, wamid = _sent_reply(api, number, meta)
    # when its callbacks arrive in order
    for status in ("sent", "delivered", "read"):
        response = post(api, _callback(number, status, wamid))
        assert response.status == 200, response.body
        assert response.json()["statuses"] == 1
    # then the message is read, with each callback in its history
    [message] = number.query("select status from public.messages where id = %s", reply)
    assert message["status"] == "read"
    assert [(e["status"], e["message_id"]) for e in _history(number, wamid)] == [
        ("sent", reply),
        ("delivered", reply),
        ("read", reply),
    ]


def test_out_of_order_callbacks_never_move_it_back(api: LambdaApi, number: Number, meta: FakeGraph) -> None:
    # given a reply whose read callback arrives first
    reply, wamid = _sent_reply(api, number, meta)
    # when delivered and sent arrive after it (and read is redelivered)
    for status in ("read", "delivered", "sent", "read"):
        post(api, _callback(number, status, wamid))
    # then it stays read, and the redelivered callback is recorded once
    [message] = number.query("select status from public.messages where id = %s", reply)
    assert message["status"] == "read"
    assert sorted(e["status"] for e in _history(number, wamid)) == ["delivered", "read", "sent"]


def test_failed_keeps_metas_error_and_is_terminal(api: LambdaApi, number: Number, meta: FakeGraph) -> None:
    # given a reply that was sent, then failed with Meta's error
    reply, wamid = _sent_reply(api, number, meta)
    post(api, _callback(number, "sent", wamid))
    post(api, _callback(number, "failed", wamid))
    # when a late read arrives
    post(api, _callback(number, "read", wamid))
    # then the message is failed with the code, title and details Meta sent
    [message] = number.query("select status, error from public.messages where id = %s", reply)
    assert message["status"] == "failed"
    assert message["error"] == {
        "type": "/problems/whatsapp-delivery-failed",
        "title": "Message undeliverable",
        "code": 131026,
        "detail": "Message Undeliverable.",
    }
    # and the history keeps the whole error
    failed = [e for e in _history(number, wamid) if e["status"] == "failed"]
    assert failed[0]["errors"][0]["error_data"] == {"details": "Message Undeliverable."}
    assert sorted(e["status"] for e in _history(number, wamid)) == ["failed", "read", "sent"]


def test_a_callback_that_beats_the_send_bookkeeping_still_counts(
    api: LambdaApi, number: Number, meta: FakeGraph
) -> None:
    # given Meta's delivered callback for a wamid we have not recorded yet (the send is still finishing)
    lead = new_phone()
    post(api, raw(text(number.phone_number_id, lead, "Oi")))
    wamid = f"wamid.{uuid.uuid4().hex}"
    post(api, _callback(number, "delivered", wamid))
    assert [e["message_id"] for e in _history(number, wamid)] == [None]
    # when the send records that wamid
    reply = number.outbound(lead, "Olá!")
    meta.answer(
        (200, {"messaging_product": "whatsapp", "contacts": [], "messages": [{"id": wamid}]}),
    )
    assert run(send_stored_message(reply)) == "sent"
    # then the message is already delivered, and the callback belongs to it
    [message] = number.query("select status, channel_message_id from public.messages where id = %s", reply)
    assert (message["status"], message["channel_message_id"]) == ("delivered", wamid)
    assert [e["message_id"] for e in _history(number, wamid)] == [reply]


def test_a_callback_on_another_tenants_number_changes_nothing(
    api: LambdaApi, number: Number, meta: FakeGraph, database_url: str
) -> None:
    # given our sent reply, and another organization's number
    reply, wamid = _sent_reply(api, number, meta)
    other = connect_number(database_url, AGENT_CONFIG, "EAAGother")
    # when a callback naming our wamid arrives for their number
    data = delivery("status_read.json", other.phone_number_id)
    data["entry"][0]["changes"][0]["value"]["statuses"][0]["id"] = wamid
    assert post(api, raw(data)).status == 200
    # then our message is untouched, and the callback is theirs alone
    [message] = number.query("select status from public.messages where id = %s", reply)
    assert message["status"] == "sent"
    assert {e["organization_id"] for e in _history(number, wamid)} == {other.org}
