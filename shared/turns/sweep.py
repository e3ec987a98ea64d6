"""Housekeeping for the turn pipeline, run by a cron: nothing here is on a request's path."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from shared.conversations.requeue import requeue_stalled
from shared.db import service_call

# A lead message still ``received`` this long after it was stored lost its enqueue (SQS was down).
STALLED_AFTER = timedelta(seconds=60)


@dataclass(frozen=True)
class SweepResult:
    """What one sweep changed."""

    released_reservations: int
    requeued_messages: int
    purged_idempotency_keys: int


async def sweep() -> SweepResult:
    """Release reservations of workers that died, requeue stalled messages, purge expired idempotency keys."""
    released = await service_call("select app.release_expired_reservations() as n")
    requeued = await requeue_stalled(STALLED_AFTER)
    purged = await service_call("select app.purge_idempotency_keys() as n")
    return SweepResult(int((released or {}).get("n") or 0), requeued, int((purged or {}).get("n") or 0))
