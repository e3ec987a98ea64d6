"""The retry schedule of event deliveries: exponential backoff with jitter, then the DLQ.

A failed attempt hides its SQS message for ``backoff(attempt)`` seconds (ChangeMessageVisibility),
so the next receive is the next attempt; after ``MAX_ATTEMPTS`` receives SQS moves the message to
the dead-letter queue (serverless.yml: ``maxReceiveCount`` equals ``MAX_ATTEMPTS``).
"""

from __future__ import annotations

import random
from typing import Final

MAX_ATTEMPTS: Final = 8
BASE_SECONDS: Final = 60
FACTOR: Final = 4
# SQS refuses a visibility timeout over 12 h from the receive; keep well inside it.
CAP_SECONDS: Final = 11 * 3600


def backoff(attempt: int, rng: random.Random | None = None) -> int:
    """Seconds to wait after failed ``attempt`` (1-based): 60·4ⁿ⁻¹ capped at 11 h, the upper half jittered.

    Equal jitter (half fixed, half random) spreads retries of a burst of failures while never
    retrying sooner than half the schedule: about 1 min, 4 min, 16 min, 1 h, 4 h, 11 h, 11 h.
    """
    ceiling = min(CAP_SECONDS, BASE_SECONDS * int(FACTOR ** max(attempt - 1, 0)))
    half = ceiling // 2
    return half + (rng or random).randint(0, ceiling - half)


def retry_in(attempt: int, rng: random.Random | None = None) -> int | None:
    """The delay before the attempt after ``attempt``, or None when this was the last one."""
    return backoff(attempt, rng) if attempt < MAX_ATTEMPTS else None
