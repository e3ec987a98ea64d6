"""Send again the turns whose enqueue failed: lead messages still ``received`` after a while, and
``queued`` ones nobody handled long after (the process died between the commit and the enqueue).

For a cron (service path, RLS bypassed). Resending is safe: SQS drops a duplicate
within its deduplication window (the message id), and the worker skips a message it
has already handled. Conversations a human has taken over are left alone.
"""

from __future__ import annotations

from datetime import timedelta

from shared.db import service_session
from shared.jobs import Queued, TurnJob, submit
from shared.observability import logger, metrics

BATCH_SIZE = 100
# A message is stored queued before its enqueue; one still unhandled this long after was never sent.
LOST_AFTER = timedelta(minutes=10)
_STALLED = """
    select m.id, m.conversation_id
    from public.messages m join public.conversations c on c.id = m.conversation_id
    where m.role = 'lead' and m.handled_at is null and c.status = 'bot'
      and (m.status = 'received' and m.created_at < now() - %(received)s
           or m.status = 'queued' and m.created_at < now() - %(queued)s)
    order by m.created_at, m.id
    limit %(limit)s
"""


async def requeue_stalled(older_than: timedelta = timedelta(seconds=60), limit: int = BATCH_SIZE) -> int:
    """Enqueue up to ``limit`` lead messages stored more than ``older_than`` ago and never queued."""
    async with service_session() as db:
        rows = await db.all(_STALLED, {"received": older_than, "queued": LOST_AFTER, "limit": limit})
    if not rows:
        return 0
    queued = await submit([Queued(r["conversation_id"], TurnJob(message_id=r["id"])) for r in rows])
    logger.info("requeued stalled turns", extra={"stalled": len(rows), "queued": len(queued)})
    metrics.add_metric(name="TurnsRequeued", unit="Count", value=len(queued))
    return len(queued)
