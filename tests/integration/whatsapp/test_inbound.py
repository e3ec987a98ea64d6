"""Inbound messages: routed by phone_number_id, one lead and conversation, every type stored, turns queued."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.whatsapp.helpers import Number, TurnQueue, delivery, new_phone, post, raw, text
from tests.support.api import LambdaApi

pytestmark = pytest.mark.integration

TYPES = [
    ("text.json", "text", "Does it come in another color?"),
    ("interactive_button_reply.json", "interactive", "button-text"),
    ("interactive_list_reply.json", "interactive", "list_reply_title"),
    ("button.json", "button", "No"),
    ("location.json", "location", "Philz Coffee, 101 Forest Ave, Palo Alto, CA 94301 (37.4848, -122.1484)"),
    ("contacts.json", "contacts", "Kerry Fitzgerald: +1 (650) 555-1234"),
    ("image.json", "image", "Is this the one?"),
    ("audio.json", "audio", ""),
    ("video.json", "video", "the leak"),
    ("document.json", "document", "signed contract"),
    ("sticker.json", "sticker", ""),
]


@pytest.mark.parametrize(("fixture", "kind", "content"), TYPES, ids=[t[0].removesuffix(".json") for t in TYPES])
def test_every_message_type_is_stored_and_its_turn_queued(
    api: LambdaApi, number: Number, turns: TurnQueue, fixture: str, kind: str, content: str
) -> None:
    # given Meta's documented delivery of this type, from a new lead
    lead = new_phone()
    data = delivery(fixture, number.phone_number_id, lead)
    wamid = data["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    # when it is posted
    response = post(api, raw(data))
    # then one lead message is stored with its type, and its turn is on the queue
    assert response.status == 200, response.body
    [message] = number.messages(lead)
    assert (message["content_type"], message["content"], message["role"]) == (kind, content, "lead")
    assert (message["channel_message_id"], message["status"]) == (wamid, "queued")
    if kind in ("image", "audio", "video", "document", "sticker"):
        assert message["payload"]["media_id"].startswith("10033834213872")
        assert message["payload"]["mime_type"]
    assert turns.take(message["conversation_id"]) == [{"type": "turn", "message_id": str(message["id"])}]


def test_the_lead_and_conversation_come_from_the_delivery(api: LambdaApi, number: Number) -> None:
    # given a first message from a lead whose profile name is Sheena Nelson, sent at a known time
    lead = new_phone()
    sent_at = datetime(2026, 11, 5, 12, 0, tzinfo=UTC)
    post(api, raw(text(number.phone_number_id, lead, "Oi", timestamp=str(int(sent_at.timestamp())))))
    # then the lead is keyed by +wa_id with the profile name, on a WhatsApp conversation with the agent
    found = number.lead(lead)
    assert (found["phone"], found["name"], found["source"]) == ("+" + lead, "Sheena Nelson", "whatsapp")
    conversation = number.conversation(lead)
    assert (conversation["channel"], conversation["agent_id"], conversation["agent_version"]) == (
        "whatsapp",
        number.agent,
        1,
    )
    # and the customer-service window runs 24 h from the message, replies leaving from this number
    assert conversation["window_expires_at"] == sent_at + timedelta(hours=24)
    assert conversation["metadata"] == {"whatsapp": {"phone_number_id": number.phone_number_id}}


def test_later_messages_join_the_open_conversation_and_only_extend_the_window(api: LambdaApi, number: Number) -> None:
    # given a conversation opened by a message at t
    lead, t = new_phone(), int(datetime(2026, 11, 5, 12, 0, tzinfo=UTC).timestamp())
    post(api, raw(text(number.phone_number_id, lead, "Oi", timestamp=str(t))))
    # when a later message arrives, then an older one (Meta retries out of order)
    post(api, raw(text(number.phone_number_id, lead, "Tem vaga?", timestamp=str(t + 3600))))
    post(api, raw(text(number.phone_number_id, lead, "Alô", timestamp=str(t - 600))))
    # then all three are in one conversation, and the window follows the latest message
    conversation = number.conversation(lead)
    assert {m["conversation_id"] for m in number.messages(lead)} == {conversation["id"]}
    assert conversation["window_expires_at"] == datetime.fromtimestamp(t + 3600 + 86400, UTC)


def test_a_closed_conversation_is_not_reopened(api: LambdaApi, number: Number) -> None:
    # given a lead whose conversation was closed
    lead = new_phone()
    post(api, raw(text(number.phone_number_id, lead, "Oi")))
    first = number.conversation(lead)["id"]
    number.execute("update public.conversations set status = 'closed', closed_at = now() where id = %s", first)
    # when the lead writes again / then a new conversation starts, with the same lead
    post(api, raw(text(number.phone_number_id, lead, "Voltei")))
    second = number.conversation(lead)
    assert second["id"] != first
    assert len(number.query("select 1 from public.leads where phone = %s", "+" + lead)) == 1


def test_several_messages_in_one_delivery_are_stored_in_one_go(
    api: LambdaApi, number: Number, turns: TurnQueue
) -> None:
    # given one delivery carrying two messages of one lead (Meta batches under load)
    lead = new_phone()
    data = text(number.phone_number_id, lead, "Oi")
    second = delivery("image.json", number.phone_number_id, lead)["entry"][0]["changes"][0]["value"]["messages"][0]
    data["entry"][0]["changes"][0]["value"]["messages"].append(second)
    # when it is posted / then both are stored in one conversation, each with its turn
    assert post(api, raw(data)).json()["stored"] == 2
    messages = number.messages(lead)
    assert [m["content_type"] for m in messages] == ["text", "image"]
    assert len(turns.take(messages[0]["conversation_id"])) == 2


def test_unknown_fields_are_ignored(api: LambdaApi, number: Number) -> None:
    lead = new_phone()
    response = post(api, raw(delivery("unknown_fields.json", number.phone_number_id, lead)))
    assert response.status == 200, response.body
    [message] = number.messages(lead)
    assert (message["content_type"], message["content"]) == ("text", "Does it come in another color?")


def test_an_unknown_number_is_acknowledged_and_nothing_is_stored(api: LambdaApi, number: Number) -> None:
    # given a delivery for a phone_number_id no integration owns (or a disabled one)
    lead = new_phone()
    data = text("999000111222333", lead, "Oi")
    number.execute("update public.integrations set enabled = false where id = %s", number.integration)
    disabled = text(number.phone_number_id, lead, "Oi")
    # when they are posted / then 200 (Meta would retry anything else for days) and nothing is stored
    for body in (data, disabled):
        response = post(api, raw(body))
        assert response.status == 200, response.body
        assert response.json()["stored"] == 0
    assert number.query("select 1 from public.leads where phone = %s", "+" + lead) == []


def test_an_unsupported_type_is_stored_without_a_turn(api: LambdaApi, number: Number, turns: TurnQueue) -> None:
    lead = new_phone()
    assert post(api, raw(delivery("unsupported.json", number.phone_number_id, lead))).status == 200
    [message] = number.messages(lead)
    assert message["content_type"] == "unsupported"
    assert message["payload"]["errors"][0]["code"] == 131051
    assert message["handled_at"] is not None
    assert turns.take(message["conversation_id"]) == []


def test_a_conversation_held_by_a_human_gets_no_turn(api: LambdaApi, number: Number, turns: TurnQueue) -> None:
    lead = new_phone()
    post(api, raw(text(number.phone_number_id, lead, "Oi")))
    conversation = number.conversation(lead)["id"]
    turns.take(conversation)
    number.execute("update public.conversations set status = 'human' where id = %s", conversation)
    post(api, raw(text(number.phone_number_id, lead, "Pode me ligar?")))
    latest = number.messages(lead)[-1]
    assert (latest["content"], latest["status"]) == ("Pode me ligar?", "received")
    assert turns.take(conversation) == []


def test_an_enqueue_failure_leaves_the_message_received_for_the_sweep(
    api: LambdaApi, number: Number, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the turn queue unavailable
    from shared.settings import get_settings

    monkeypatch.setenv("TURN_QUEUE_URL", "")
    get_settings.cache_clear()
    # when a message arrives / then it is acknowledged and stored, still received (the sweep requeues it)
    lead = new_phone()
    assert post(api, raw(text(number.phone_number_id, lead, "Oi"))).status == 200
    [message] = number.messages(lead)
    assert message["status"] == "received"


def test_a_reaction_is_stored_with_its_emoji_and_the_message_it_is_on_without_a_turn(
    api: LambdaApi, number: Number, turns: TurnQueue
) -> None:
    # given a lead who wrote, and then reacts to that message
    lead = new_phone()
    first = delivery("text.json", number.phone_number_id, lead)
    assert post(api, raw(first)).status == 200
    conversation = number.conversation(lead)["id"]
    turns.take(conversation)
    reacted_wamid = first["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    reaction = delivery("reaction.json", number.phone_number_id, lead)
    reaction["entry"][0]["changes"][0]["value"]["messages"][0]["reaction"]["message_id"] = reacted_wamid
    # when the reaction arrives
    assert post(api, raw(reaction)).status == 200
    # then it is stored with its meaning, handled, and no turn is queued for it
    text_message, stored = number.messages(lead)
    assert (stored["content_type"], stored["content"]) == ("reaction", "\U0001f44d")
    assert stored["payload"]["emoji"] == "\U0001f44d"
    assert stored["payload"]["message_id"] == reacted_wamid
    assert stored["payload"]["reacted_message_id"] == str(text_message["id"])
    assert stored["handled_at"] is not None
    assert turns.take(conversation) == []
