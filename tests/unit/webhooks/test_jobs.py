"""Delivery jobs as they travel through SQS, and the catalog they name."""

from __future__ import annotations

import uuid

import pytest

from shared.events.catalog import DESCRIPTIONS, EVENT_TYPES
from shared.events.delivery import DeliveryJob
from shared.events.retry import MAX_ATTEMPTS


def test_a_job_survives_the_queue_and_learns_its_attempt_from_the_receive_count() -> None:
    # given a job as the dispatcher queues it
    job = DeliveryJob(event_id=uuid.uuid4(), kind="webhook", subscriber_id=uuid.uuid4())
    # when the worker reads it on its third receive
    received = DeliveryJob.from_message(job.to_message(), receive_count=3)
    # then it is the same job, at attempt 3
    assert (received.event_id, received.kind, received.subscriber_id, received.attempt) == (
        job.event_id,
        job.kind,
        job.subscriber_id,
        3,
    )


@pytest.mark.parametrize("body", ['{"type": "turn", "message_id": "x"}', "[]", '"text"'])
def test_other_messages_are_not_jobs(body: str) -> None:
    with pytest.raises(ValueError, match="not an event delivery"):
        DeliveryJob.from_message(body, receive_count=1)


def test_a_job_knows_when_it_is_the_last_attempt() -> None:
    message = DeliveryJob(uuid.uuid4(), "webhook", uuid.uuid4()).to_message()
    assert DeliveryJob.from_message(message, receive_count=1).retry_in is not None
    assert DeliveryJob.from_message(message, receive_count=MAX_ATTEMPTS).retry_in is None


def test_every_event_type_documents_its_payload() -> None:
    # given the catalog / then each type says what its data carries, and nothing else is described
    assert set(DESCRIPTIONS) == set(EVENT_TYPES)
    assert all(DESCRIPTIONS[t] for t in EVENT_TYPES)
