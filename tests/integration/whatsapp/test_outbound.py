"""Sending stored replies: the 24-hour window, the template fallback, retries, splitting, idempotency."""

from __future__ import annotations

import time
import uuid

import pytest

from shared.whatsapp.outbound import send_stored_message
from shared.whatsapp.retries import MAX_SEND_ATTEMPTS, SendRetry
from tests.integration.whatsapp.conftest import TEMPLATE, connect_number
from tests.integration.whatsapp.fake_graph import FakeGraph, meta_error
from tests.integration.whatsapp.helpers import ACCESS_TOKEN, Number, new_phone, post, raw, text
from tests.integration.worker.conftest import AGENT_CONFIG
from tests.support.aio import run
from tests.support.api import LambdaApi
from tests.support.lost_answer import answer_lost_once

pytestmark = pytest.mark.integration
DAY = 24 * 3600


def _lead(api: LambdaApi, number: Number, hours_ago: float = 0) -> str:
    """A lead whose last message was ``hours_ago``."""
    lead = new_phone()
    sent = str(int(time.time() - hours_ago * 3600))
    assert post(api, raw(text(number.phone_number_id, lead, "Oi, sou a Ana", timestamp=sent))).status == 200
    return lead


def _message(number: Number, message_id: uuid.UUID) -> dict[str, object]:
    [row] = number.query("select * from public.messages where id = %s", message_id)
    return row


def test_inside_the_window_the_text_goes_out_with_the_token_from_vault(
    api: LambdaApi, number: Number, meta: FakeGraph
) -> None:
    # given a lead who wrote an hour ago, and a queued reply
    lead = _lead(api, number, hours_ago=1)
    reply = number.outbound(lead, "Olá Ana! Temos visitas amanhã.")
    # when it is sent
    assert run(send_stored_message(reply)) == "sent"
    # then Meta received one text message from our number, with the integration's token
    [request] = meta.requests
    assert request.path == f"/v21.0/{number.phone_number_id}/messages"
    assert request.authorization == f"Bearer {ACCESS_TOKEN}"
    assert request.body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": lead,
        "type": "text",
        "text": {"preview_url": False, "body": "Olá Ana! Temos visitas amanhã."},
    }
    # and the reply is sent, under the wamid Meta returned
    stored = _message(number, reply)
    assert (stored["status"], stored["channel_message_id"]) == ("sent", meta.wamids[0])


def test_a_second_send_of_the_same_message_sends_nothing(api: LambdaApi, number: Number, meta: FakeGraph) -> None:
    lead = _lead(api, number)
    reply = number.outbound(lead, "Oi!")
    assert run(send_stored_message(reply)) == "sent"
    assert run(send_stored_message(reply)) == "skipped"
    assert len(meta.requests) == 1


def test_outside_the_window_the_agents_template_goes_instead(api: LambdaApi, number: Number, meta: FakeGraph) -> None:
    # given a lead whose last message was 25 hours ago
    lead = _lead(api, number, hours_ago=25)
    reply = number.outbound(lead, "Ainda tem interesse na visita?")
    # when the reply is sent / then the approved template goes, filled from the lead and the reply
    assert run(send_stored_message(reply)) == "sent"
    [request] = meta.requests
    assert request.body["type"] == "template"
    assert request.body["template"] == {
        "name": TEMPLATE["name"],
        "language": {"code": "pt_BR"},
        "components": [
            {
                "type": "body",
                "parameters": [
                    {"type": "text", "text": "Sheena"},
                    {"type": "text", "text": "Ainda tem interesse na visita?"},
                ],
            }
        ],
    }
    assert _message(number, reply)["status"] == "sent"


def test_outside_the_window_without_a_template_nothing_is_sent(
    api: LambdaApi, meta: FakeGraph, database_url: str
) -> None:
    number = connect_number(database_url, AGENT_CONFIG, ACCESS_TOKEN)  # a raw token in Vault works too
    lead = _lead(api, number, hours_ago=30)
    reply = number.outbound(lead, "Oi?")
    assert run(send_stored_message(reply)) == "failed"
    assert meta.requests == []
    assert _message(number, reply)["error"]["type"] == "/problems/whatsapp-window-closed"  # type: ignore[index]


def test_a_131047_answer_to_free_text_falls_back_to_the_template(
    api: LambdaApi, number: Number, meta: FakeGraph
) -> None:
    # given a window that is open by our clock, but Meta says re-engagement is required
    lead = _lead(api, number, hours_ago=23.9)
    meta.answer(meta_error(131047, "(#131047) Re-engagement message", "more than 24 hours have passed"))
    reply = number.outbound(lead, "Podemos marcar?")
    # when sent / then the text was refused once, the template went out, and the reply is sent
    assert run(send_stored_message(reply)) == "sent"
    assert [r.body["type"] for r in meta.requests] == ["text", "template"]
    assert _message(number, reply)["channel_message_id"] == meta.wamids[0]


@pytest.mark.parametrize(
    "answer",
    [meta_error(130429, "(#130429) Rate limit hit", "throughput"), (503, {"error": {"message": "down", "code": 2}})],
    ids=["130429", "5xx"],
)
def test_throughput_and_server_errors_are_retried_later_with_backoff(
    api: LambdaApi, number: Number, meta: FakeGraph, answer: tuple[int, dict[str, object]]
) -> None:
    # given Meta refusing twice for now
    lead = _lead(api, number)
    meta.answer(answer, answer)
    reply = number.outbound(lead, "Oi!")
    # when sent three times / then the first two ask for a retry, each later than the one before
    delays = []
    for _ in range(2):
        with pytest.raises(SendRetry) as retry:
            run(send_stored_message(reply))
        delays.append(retry.value.delay_seconds)
    assert run(send_stored_message(reply)) == "sent"
    assert delays[0] < delays[1]
    assert len(meta.requests) == 3


def test_after_the_last_attempt_the_message_fails_and_message_failed_is_emitted(
    api: LambdaApi, number: Number, meta: FakeGraph
) -> None:
    # given Meta down for good
    lead = _lead(api, number)
    down = (503, {"error": {"message": "Service temporarily unavailable", "code": 2}})
    meta.answer(*[down] * MAX_SEND_ATTEMPTS)
    reply = number.outbound(lead, "Oi!")
    # when every attempt is used
    for _ in range(MAX_SEND_ATTEMPTS - 1):
        with pytest.raises(SendRetry):
            run(send_stored_message(reply))
    assert run(send_stored_message(reply)) == "failed"
    # then the message is failed with Meta's problem, and subscribers hear of it
    stored = _message(number, reply)
    assert stored["status"] == "failed"
    assert stored["error"]["attempts"] == MAX_SEND_ATTEMPTS
    assert stored["error"]["title"] == "Service temporarily unavailable"
    [event] = number.query(
        "select payload from public.event_outbox where type = 'message.failed' and payload ->> 'message_id' = %s",
        str(reply),
    )
    assert event["payload"]["problem"]["type"] == "/problems/whatsapp-error"
    assert len(meta.requests) == MAX_SEND_ATTEMPTS


def test_when_meta_stays_down_the_message_stays_queued_for_a_retry(
    api: LambdaApi, number: Number, meta: FakeGraph
) -> None:
    # given Meta failing every attempt
    lead = _lead(api, number)
    down = (500, {"error": {"message": "An unknown error occurred", "code": 1}})
    meta.answer(down)
    reply = number.outbound(lead, "Oi!")
    # when sent / then the caller is told to retry, and the message is queued and unclaimed
    with pytest.raises(SendRetry):
        run(send_stored_message(reply))
    stored = _message(number, reply)
    assert (stored["status"], stored["send_claimed_at"]) == ("queued", None)
    # and the retry sends it
    assert run(send_stored_message(reply)) == "sent"


def test_a_failed_attempt_whose_answer_is_lost_is_counted_once(api: LambdaApi, number: Number, meta: FakeGraph) -> None:
    # given Meta refusing the first attempt
    lead = _lead(api, number)
    meta.answer((503, {"error": {"message": "Service temporarily unavailable", "code": 2}}))
    reply = number.outbound(lead, "Oi!")
    # when the attempt is counted and the answer to that committed statement is lost once (shared.db sends it again)
    with answer_lost_once("app.retry_send") as lost, pytest.raises(SendRetry) as retry:
        run(send_stored_message(reply))
    assert len(lost) == 1
    # then the message counts one failed attempt, as the retry it asked for does, and is released for it
    stored = _message(number, reply)
    assert retry.value.attempts == 1
    assert (stored["status"], stored["send_attempts"], stored["send_claimed_at"]) == ("queued", 1, None)
    # and the next attempt sends it
    assert run(send_stored_message(reply)) == "sent"


def test_a_permanent_error_marks_the_message_failed_with_metas_code(
    api: LambdaApi, number: Number, meta: FakeGraph
) -> None:
    lead = _lead(api, number)
    meta.answer(meta_error(131026, "(#131026) Message undeliverable", "Receiver is incapable of receiving"))
    reply = number.outbound(lead, "Oi!")
    assert run(send_stored_message(reply)) == "failed"
    error = _message(number, reply)["error"]
    assert error == {
        "type": "/problems/whatsapp-error",
        "title": "(#131026) Message undeliverable",
        "status": 502,
        "detail": "Receiver is incapable of receiving",
        "code": 131026,
        "http_status": 400,
    }
    assert ACCESS_TOKEN not in str(error)


def test_a_reply_longer_than_4096_characters_is_split_between_sentences(
    api: LambdaApi, number: Number, meta: FakeGraph
) -> None:
    # given a reply of about 6,000 characters
    lead = _lead(api, number)
    content = "Temos unidades de dois e três quartos perto do metrô. " * 110
    reply = number.outbound(lead, content.strip())
    # when sent / then two text messages, each within the limit, ending on a sentence
    assert run(send_stored_message(reply)) == "sent"
    bodies = [r.body["text"]["body"] for r in meta.requests]
    assert len(bodies) == 2
    assert all(len(b) <= 4096 and b.endswith(".") for b in bodies)
    assert " ".join(bodies).split() == content.split()
    # and the message keeps both wamids, the first as its own
    stored = _message(number, reply)
    assert stored["channel_message_id"] == meta.wamids[0]
    assert stored["payload"] == {"wamids": meta.wamids}


def test_a_split_send_interrupted_midway_resumes_after_the_chunks_already_sent(
    api: LambdaApi, number: Number, meta: FakeGraph
) -> None:
    lead = _lead(api, number)
    reply = number.outbound(lead, ("Frase número um. " * 300).strip())
    meta.answer((200, {"messages": [{"id": "wamid.first"}]}), (500, {}))
    with pytest.raises(SendRetry):
        run(send_stored_message(reply))
    assert run(send_stored_message(reply)) == "sent"
    assert len(meta.requests) == 3  # chunk 1 once, chunk 2 refused then sent
    assert _message(number, reply)["payload"] == {"wamids": ["wamid.first", meta.wamids[0]]}
