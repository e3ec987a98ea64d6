"""Housekeeping for the turn pipeline, run by a cron: nothing here is on a request's path."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import timedelta

from shared.conversations.requeue import requeue_stalled
from shared.db import service_call, service_session
from shared.jobs import Queued, SendJob, submit
from shared.observability import logger
from shared.whatsapp.retries import MAX_SEND_ATTEMPTS

# A lead message still ``received`` this long after it was stored lost its enqueue (SQS was down).
STALLED_AFTER = timedelta(seconds=60)
# An outbound WhatsApp message still ``queued`` (and unclaimed or stale-claimed) this long lost its send job.
UNSENT_AFTER = timedelta(minutes=5)
BATCH_SIZE = 100
# Each re-send counts as an attempt, so a message whose sends keep getting lost is failed, never re-sent forever.
_UNSENT = """
    with lost as (
        select m.id from public.messages m join public.conversations c on c.id = m.conversation_id
        where c.channel = 'whatsapp' and m.role in ('assistant', 'human') and m.status = 'queued'
          and coalesce(m.send_next_at, m.created_at) < now() - %(older)s
          and (m.send_claimed_at is null or m.send_claimed_at < now() - %(older)s)
        order by m.created_at, m.id
        limit %(limit)s
        for update of m skip locked
    )
    update public.messages m set send_attempts = m.send_attempts + 1
    from lost where m.id = lost.id
    returning m.id, m.conversation_id, m.send_attempts
"""
_ABANDONED = {
    "type": "/problems/whatsapp-send-abandoned",
    "title": "WhatsApp send abandoned",
    "status": 502,
    "detail": "the message could not be sent after every attempt",
}


@dataclass(frozen=True)
class SweepResult:
    """What one sweep changed."""

    released_reservations: int
    requeued_messages: int
    requeued_sends: int
    purged_idempotency_keys: int


async def requeue_unsent(older_than: timedelta = UNSENT_AFTER, limit: int = BATCH_SIZE) -> int:
    """Queue a send job again for outbound WhatsApp messages whose job was lost, a bounded number of times."""
    async with service_session() as db:
        rows = await db.all(_UNSENT, {"older": older_than, "limit": limit})
    retry = [r for r in rows if r["send_attempts"] < MAX_SEND_ATTEMPTS]
    for row in rows:
        if row["send_attempts"] >= MAX_SEND_ATTEMPTS:
            await service_call("select app.fail_send(%s, %s::jsonb) as failed", (row["id"], json.dumps(_ABANDONED)))
    sweep_id = uuid.uuid4().hex[:8]  # a fresh deduplication id: the first job may still sit in SQS's window
    jobs = [Queued(r["conversation_id"], SendJob(message_id=r["id"]), f"send:{r['id']}:{sweep_id}") for r in retry]
    sent = await submit(jobs)
    if rows:
        logger.info("re-sent lost sends", extra={"lost": len(rows), "requeued": len(sent)})
    return len(sent)


async def sweep() -> SweepResult:
    """Release dead workers' reservations, requeue stalled turns and lost sends, purge expired idempotency keys."""
    released = await service_call("select app.release_expired_reservations() as n")
    requeued = await requeue_stalled(STALLED_AFTER)
    sends = await requeue_unsent()
    purged = await service_call("select app.purge_idempotency_keys() as n")
    return SweepResult(int((released or {}).get("n") or 0), requeued, sends, int((purged or {}).get("n") or 0))
