"""Housekeeping for the turn pipeline, run by a cron: nothing here is on a request's path."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from shared.conversations.requeue import requeue_stalled
from shared.db import service_call, service_session
from shared.whatsapp.jobs import enqueue_send

# A lead message still ``received`` this long after it was stored lost its enqueue (SQS was down).
STALLED_AFTER = timedelta(seconds=60)
# An outbound WhatsApp message still ``queued`` (and unclaimed or stale-claimed) this long lost its send job.
UNSENT_AFTER = timedelta(minutes=5)
BATCH_SIZE = 100
_UNSENT = """
    select m.id, m.conversation_id
    from public.messages m join public.conversations c on c.id = m.conversation_id
    where c.channel = 'whatsapp' and m.role in ('assistant', 'human') and m.status = 'queued'
      and m.created_at < now() - %s and (m.send_claimed_at is null or m.send_claimed_at < now() - %s)
    order by m.created_at, m.id
    limit %s
"""


@dataclass(frozen=True)
class SweepResult:
    """What one sweep changed."""

    released_reservations: int
    requeued_messages: int
    requeued_sends: int
    purged_idempotency_keys: int


async def requeue_unsent(older_than: timedelta = UNSENT_AFTER, limit: int = BATCH_SIZE) -> int:
    """Queue a send job again for outbound WhatsApp messages whose job was lost; sending stays idempotent."""
    async with service_session() as db:
        rows = await db.all(_UNSENT, (older_than, older_than, limit))
    sweep_id = uuid.uuid4().hex[:8]  # a fresh deduplication id: the first job may still sit in SQS's window
    sent = [await enqueue_send(r["conversation_id"], r["id"], f"send:{r['id']}:{sweep_id}") for r in rows]
    return sum(sent)


async def sweep() -> SweepResult:
    """Release dead workers' reservations, requeue stalled turns and lost sends, purge expired idempotency keys."""
    released = await service_call("select app.release_expired_reservations() as n")
    requeued = await requeue_stalled(STALLED_AFTER)
    sends = await requeue_unsent()
    purged = await service_call("select app.purge_idempotency_keys() as n")
    return SweepResult(int((released or {}).get("n") or 0), requeued, sends, int((purged or {}).get("n") or 0))
