"""The turn queue's jobs: the body, group and deduplication id the worker and SQS FIFO expect."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from shared import jobs
from shared.clients import sqs
from tests.support.aio import run

QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/turns.fifo"


class FakeSqs:
    """Stands in for ``shared.clients.sqs.send_message``: records each send, or raises ``error``."""

    def __init__(self, error: Exception | None = None) -> None:
        self.sent: list[dict[str, Any]] = []
        self.error = error

    def send_message(self, queue_url: str, body: str, group_id: str, deduplication_id: str) -> str:
        if self.error:
            raise self.error
        self.sent.append(
            {
                "QueueUrl": queue_url,
                "MessageBody": body,
                "MessageGroupId": group_id,
                "MessageDeduplicationId": deduplication_id,
            }
        )
        return "1"


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
    settings.setattr(sqs, "send_message", fake.send_message)
    conversation_id, message_id = uuid.uuid4(), uuid.uuid4()
    assert run(jobs.enqueue(jobs.Queued(conversation_id, jobs.TurnJob(message_id=message_id)))) is True
    (sent,) = fake.sent
    assert sent["QueueUrl"] == QUEUE_URL
    assert json.loads(sent["MessageBody"]) == {"type": "turn", "message_id": str(message_id)}
    assert (sent["MessageGroupId"], sent["MessageDeduplicationId"]) == (str(conversation_id), str(message_id))


def test_a_send_goes_in_a_group_of_its_own_so_it_never_holds_up_a_turn(settings: pytest.MonkeyPatch) -> None:
    # given a send job for a conversation
    fake = FakeSqs()
    settings.setattr(sqs, "send_message", fake.send_message)
    conversation_id, message_id = uuid.uuid4(), uuid.uuid4()
    # when it is enqueued
    assert run(jobs.enqueue(jobs.Queued(conversation_id, jobs.SendJob(message_id=message_id)))) is True
    # then it is in the conversation's send group, not its turn group
    (sent,) = fake.sent
    assert sent["MessageGroupId"] == f"send:{conversation_id}" != str(conversation_id)
    assert sent["MessageDeduplicationId"] == f"send:{message_id}"
    assert jobs.parse(sent["MessageBody"]) == jobs.SendJob(message_id=message_id)


def test_a_body_that_is_no_job_is_refused() -> None:
    with pytest.raises(ValidationError):
        jobs.parse('{"type": "dance", "message_id": "x"}')


def test_a_refused_send_is_reported_not_raised(settings: pytest.MonkeyPatch) -> None:
    error = sqs.SqsError("SQS SendMessage: 400 QueueDoesNotExist")
    settings.setattr(sqs, "send_message", FakeSqs(error).send_message)
    assert run(jobs.enqueue(jobs.Queued(uuid.uuid4(), jobs.TurnJob(message_id=uuid.uuid4())))) is False


def test_no_queue_configured_is_reported_not_raised(settings: pytest.MonkeyPatch) -> None:
    from shared.settings import get_settings

    settings.delenv("TURN_QUEUE_URL")
    get_settings.cache_clear()
    assert run(jobs.enqueue(jobs.Queued(uuid.uuid4(), jobs.TurnJob(message_id=uuid.uuid4())))) is False
