"""When a failed WhatsApp send is tried again: the one place that bounds and spaces the attempts.

An attempt is one POST to the Graph API (the turn's own try, then one per send job delivery,
then one per sweep of a lost job). SQS moves a job to the DLQ after 5 receives: the turn's try
plus five receives make six attempts, and the last one fails the message before SQS would drop it.
"""

from __future__ import annotations

from shared.errors import UpstreamUnavailable

MAX_SEND_ATTEMPTS = 6
# Seconds a send job stays invisible after its n-th failed attempt (exponential, about 17 minutes in all).
BACKOFF_SECONDS: tuple[int, ...] = (10, 30, 90, 270, 600)


# A send waiting for an earlier message of its conversation looks again after this long.
WAIT_FOR_EARLIER_SECONDS = 10


class RetryLater(UpstreamUnavailable):
    """The message is still queued; its send job should run again after ``delay_seconds``."""

    code = "whatsapp-retry"
    title = "WhatsApp send will be retried"

    def __init__(self, detail: str, delay_seconds: int) -> None:
        super().__init__(detail)
        self.delay_seconds = delay_seconds


class SendRetry(RetryLater):
    """The send failed transiently (attempt ``attempts``) and will be tried again."""

    def __init__(self, attempts: int, detail: str) -> None:
        super().__init__(detail, backoff(attempts))
        self.attempts = attempts


class WaitForEarlier(RetryLater):
    """An earlier outbound message of the conversation is still queued: order first."""

    def __init__(self) -> None:
        super().__init__("an earlier message of the conversation is still queued", WAIT_FOR_EARLIER_SECONDS)


def exhausted(attempts: int) -> bool:
    """True when no attempt is left after ``attempts`` failed ones."""
    return attempts >= MAX_SEND_ATTEMPTS


def backoff(attempts: int) -> int:
    """How long to wait after ``attempts`` failed attempts."""
    return BACKOFF_SECONDS[min(max(attempts, 1), len(BACKOFF_SECONDS)) - 1]
