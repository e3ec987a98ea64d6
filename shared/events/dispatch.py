"""Move new outbox events to the events queue: one message per (event, subscriber) delivery.

Rows are claimed ``FOR UPDATE SKIP LOCKED`` inside one transaction, so concurrent dispatchers
split the work and never queue an event twice; the claim is released by the commit that marks
the events dispatched. An event with a message SQS refused stays undispatched for the next run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import LiteralString

from shared.db import service_session
from shared.events.delivery import Deliverer, DeliveryJob, OutboxEvent
from shared.events.queue import send_jobs

BATCH_SIZE = 100
_CLAIM: LiteralString = """
    select o.id, o.organization_id, o.type::text as type, o.created_at
    from public.event_outbox o
    where o.dispatched_at is null
    order by o.created_at, o.id
    limit %(limit)s
    for update skip locked
"""
_MARK: LiteralString = """
    update public.event_outbox o set
        dispatched_at = case when o.id = any (%(failed)s::uuid[]) then null else now() end,
        attempts = o.attempts + case when o.id = any (%(failed)s::uuid[]) then 1 else 0 end,
        last_error = case when o.id = any (%(failed)s::uuid[]) then 'the events queue refused a delivery' end
    where o.id = any (%(ids)s::uuid[])
"""


@dataclass(frozen=True)
class DispatchResult:
    """What one or more dispatch batches did."""

    events: int = 0
    messages: int = 0
    failed_events: int = 0

    def __add__(self, other: DispatchResult) -> DispatchResult:
        return DispatchResult(
            self.events + other.events, self.messages + other.messages, self.failed_events + other.failed_events
        )


async def dispatch_batch(deliverers: Mapping[str, Deliverer], limit: int = BATCH_SIZE) -> DispatchResult:
    """Claim up to ``limit`` undispatched events, queue their deliveries, and mark them."""
    async with service_session() as db:
        events = [OutboxEvent(**row) for row in await db.all(_CLAIM, {"limit": limit})]
        if not events:
            return DispatchResult()
        jobs: list[DeliveryJob] = []
        for deliverer in deliverers.values():
            jobs.extend(await deliverer.fan_out(db, events))
        failed = await send_jobs(jobs)
        await db.execute(_MARK, {"ids": [e.id for e in events], "failed": list(failed)})
    sent = sum(1 for job in jobs if job.event_id not in failed)
    return DispatchResult(events=len(events), messages=sent, failed_events=len(failed))


async def dispatch_pending(
    deliverers: Mapping[str, Deliverer], has_time: Callable[[], bool], limit: int = BATCH_SIZE
) -> DispatchResult:
    """Dispatch batch after batch until the outbox is drained, a send fails, or time runs short."""
    total = DispatchResult()
    while True:
        result = await dispatch_batch(deliverers, limit)
        total += result
        if result.events < limit or result.failed_events or not has_time():
            return total
