"""Send again the turns whose enqueue failed: lead messages still ``received`` after a while.

For a cron (service path, RLS bypassed). Resending is safe: SQS drops a duplicate
within its deduplication window (the message id), and the worker skips a message it
has already handled. Conversations a human has taken over are left alone.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from shared.conversations.queue import enqueue_turn
from shared.db import service_call, service_session
from shared.observability import logger, metrics

BATCH_SIZE = 100
_STALLED = """
    select m.id, m.conversation_id
    from public.messages m join public.conversations c on c.id = m.conversation_id
    where m.role = 'lead' and m.status = 'received' and m.handled_at is null
      and m.created_at < now() - %s and c.status = 'bot'
    order by m.created_at, m.id
    limit %s
"""
_MARK_QUEUED = """
    with marked as (
        update public.messages m set status = 'queued'
        where m.id = any(%s::uuid[]) and m.status = 'received'
        returning 1
    )
    select count(*) as marked from marked
"""


async def requeue_stalled(older_than: timedelta = timedelta(seconds=60), limit: int = BATCH_SIZE) -> int:
    """Enqueue up to ``limit`` lead messages stored more than ``older_than`` ago and never queued."""
    async with service_session() as db:
        rows = await db.all(_STALLED, (older_than, limit))
    if not rows:
        return 0
    sent = await asyncio.gather(*(enqueue_turn(r["conversation_id"], r["id"]) for r in rows))
    queued: list[uuid.UUID] = [r["id"] for r, ok in zip(rows, sent, strict=True) if ok]
    if queued:
        await service_call(_MARK_QUEUED, (queued,))
    logger.info("requeued stalled turns", extra={"stalled": len(rows), "queued": len(queued)})
    metrics.add_metric(name="TurnsRequeued", unit="Count", value=len(queued))
    return len(queued)
