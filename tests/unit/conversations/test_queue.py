"""Enqueueing a turn: the body, group and deduplication id the worker and SQS FIFO expect."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from shared.conversations import queue
from tests.support.aio import run

QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/turns.fifo"


class FakeSqs:
    def __init__(self, error: Exception | None = None) -> None:
        self.sent: list[dict[str, Any]] = []
        self.error = error

    def send_message(self, **kwargs: Any) -> dict[str, str]:
        if self.error:
            raise self.error
        self.sent.append(kwargs)
        return {"MessageId": "1"}


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    from shared.settings import get_settings

    monkeypatch.setenv("APP_ENV", "dev")
    monkeypatch.setenv("DATABASE_URL", "postgresql://x@127.0.0.1:1/x")
    monkeypatch.setenv("SUPABASE_JWT_SECRET", "x" * 40)
    monkeypatch.setenv("TURN_QUEUE_URL", QUEUE_URL)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def test_a_turn_is_sent_in_the_conversations_group(settings: pytest.MonkeyPatch) -> None:
    fake = FakeSqs()
    settings.setattr(queue, "get_sqs", lambda: fake)
    conversation_id, message_id = uuid.uuid4(), uuid.uuid4()
    assert run(queue.enqueue_turn(conversation_id, message_id)) is True
    (sent,) = fake.sent
    assert sent["QueueUrl"] == QUEUE_URL
    assert json.loads(sent["MessageBody"]) == {"type": "turn", "message_id": str(message_id)}
    assert (sent["MessageGroupId"], sent["MessageDeduplicationId"]) == (str(conversation_id), str(message_id))


@pytest.mark.parametrize(
    "error",
    [
        ClientError({"Error": {"Code": "AWS.SimpleQueueService.NonExistentQueue", "Message": "no"}}, "SendMessage"),
        EndpointConnectionError(endpoint_url=QUEUE_URL),
    ],
)
def test_a_refused_send_is_reported_not_raised(settings: pytest.MonkeyPatch, error: Exception) -> None:
    settings.setattr(queue, "get_sqs", lambda: FakeSqs(error))
    assert run(queue.enqueue_turn(uuid.uuid4(), uuid.uuid4())) is False


def test_no_queue_configured_is_reported_not_raised(settings: pytest.MonkeyPatch) -> None:
    from shared.settings import get_settings

    settings.delenv("TURN_QUEUE_URL")
    get_settings.cache_clear()
    assert run(queue.enqueue_turn(uuid.uuid4(), uuid.uuid4())) is False
