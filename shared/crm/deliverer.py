"""The CRM subscriber kinds: every enabled integration of the kind gets the organization's lead events.

One ``CrmDeliverer`` per kind wraps that CRM's adapter. A failure the CRM may get over (rate
limit, outage, timeout) is ``failed``, so the worker backs off and retries, then dead-letters it; a
rejection (a 4xx validation error) is logged with the CRM's message and not retried.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import LiteralString

from shared.crm import store
from shared.crm.http import ProviderError
from shared.crm.jobs import SYNCED_EVENTS, NotSynced, SyncJob, SyncResult
from shared.db import Session
from shared.events.delivery import DeliveryJob, OutboxEvent, Outcome
from shared.observability import logger, metrics

Sync = Callable[[SyncJob], Awaitable[SyncResult]]
_FAN_OUT: LiteralString = """
    select ev.id as event_id, i.id as integration_id
    from unnest(%(ids)s::uuid[], %(orgs)s::uuid[], %(types)s::text[]) as ev (id, organization_id, type)
    join public.integrations i on i.organization_id = ev.organization_id and i.kind = %(kind)s::text
    where i.enabled and i.secret_id is not null and ev.type = any (%(wanted)s::text[])
"""


class CrmDeliverer:
    """Delivers ``lead.qualified``, ``handoff.requested`` and ``conversion.created`` to one kind of CRM."""

    def __init__(self, kind: str, sync: Sync) -> None:
        self.kind = kind
        self._sync = sync

    async def fan_out(self, db: Session, events: Sequence[OutboxEvent]) -> list[DeliveryJob]:
        """One job per (synced event, enabled integration of this kind in its organization)."""
        params = {
            "ids": [e.id for e in events],
            "orgs": [e.organization_id for e in events],
            "types": [e.type for e in events],
            "kind": self.kind,
            "wanted": list(SYNCED_EVENTS),
        }
        rows = await db.all(_FAN_OUT, params)
        return [DeliveryJob(row["event_id"], self.kind, row["integration_id"]) for row in rows]

    async def deliver(self, job: DeliveryJob) -> Outcome:
        """Push the event to the CRM and remember the contact and deal it now maps to."""
        outcome = await self._attempt(job)
        metrics.add_metric(name=f"CrmSync{outcome.status.capitalize()}", unit="Count", value=1)
        return outcome

    async def _attempt(self, job: DeliveryJob) -> Outcome:
        claimed = await store.claim(job, self.kind)
        if isinstance(claimed, Outcome):
            return claimed
        sync, lease = claimed
        try:
            result = await self._sync(sync)
        except ProviderError as exc:
            await store.finish(lease, sync, None, "failed" if exc.retryable else "rejected", exc.detail)
            return self._failure(job, exc)
        except NotSynced as exc:
            await store.finish(lease, sync, None, "skipped", str(exc))
            return Outcome("skipped", str(exc))
        except Exception:
            await store.finish(lease, sync, None, "failed", "unexpected error")
            raise
        await store.finish(lease, sync, result, "succeeded", None)
        return Outcome("succeeded")

    def _failure(self, job: DeliveryJob, exc: ProviderError) -> Outcome:
        fields = {"kind": self.kind, "integration_id": str(job.subscriber_id), "event_id": str(job.event_id)}
        if exc.retryable:
            return Outcome("failed", exc.detail)
        # Final: the SQS record succeeds (nothing to retry); the link keeps the CRM's message for members.
        logger.error("the CRM rejected a sync; it is not retried", extra={**fields, "error": exc.detail})
        return Outcome("skipped", f"rejected, not retried: {exc.detail}")
