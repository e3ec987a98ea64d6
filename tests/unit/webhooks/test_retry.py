"""The retry schedule: exponential backoff with equal jitter, capped, ending at the DLQ."""

from __future__ import annotations

import random

import pytest

from local_runtime.gateway.routes import load_serverless
from shared.events.retry import CAP_SECONDS, MAX_ATTEMPTS, backoff, retry_in


@pytest.mark.parametrize(("attempt", "ceiling"), [(1, 60), (2, 240), (3, 960), (4, 3840), (5, 15360), (6, CAP_SECONDS)])
def test_each_delay_lies_in_the_upper_half_of_its_exponential_step(attempt: int, ceiling: int) -> None:
    # given many draws of the jittered delay after an attempt
    delays = {backoff(attempt, random.Random(seed)) for seed in range(200)}
    # then each lies between half the step and the step, and the jitter spreads them
    assert min(delays) >= ceiling // 2
    assert max(delays) <= ceiling
    assert len(delays) > 1


def test_the_delay_never_exceeds_what_sqs_allows() -> None:
    # given the largest attempt numbers / then the delay stays under SQS's 12-hour visibility limit
    assert max(backoff(n, random.Random(n)) for n in range(1, 40)) <= CAP_SECONDS < 12 * 3600


def test_the_last_attempt_has_no_next_one() -> None:
    assert retry_in(MAX_ATTEMPTS - 1) is not None
    assert retry_in(MAX_ATTEMPTS) is None


def test_the_events_queue_redrives_after_the_last_attempt() -> None:
    # given serverless.yml / then the DLQ takes a message exactly when the schedule ends
    queue = load_serverless()["resources"]["Resources"]["EventsQueue"]["Properties"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == MAX_ATTEMPTS
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]}
    assert "FifoQueue" not in queue
