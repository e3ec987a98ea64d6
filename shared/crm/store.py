"""The database side of a CRM delivery: load the event and lease the lead's link, then record the result.

Both run in short transactions of their own, so none stays open while a CRM answers. The lease
(``crm_links.lease_id``) keeps two deliveries for one lead from both creating a deal.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, LiteralString

from shared.crm.jobs import STEPS, CrmLead, SyncJob, SyncResult
from shared.db import Session, service_session
from shared.events.delivery import DeliveryJob, Outcome
from shared.secrets_store import read_secrets

LEASE_SECONDS = 120
# A lead_id or conversion_id that is not a uuid names nothing (instead of failing the cast forever).
_TARGET: LiteralString = """
    select i.organization_id, i.enabled, i.config, i.secret_id, o.type::text as event_type, o.payload,
           l.id as lead_id, l.name, l.email, l.phone, c.value, c.currency
    from public.event_outbox o
    join public.integrations i on i.id = %(integration)s and i.organization_id = o.organization_id
                              and i.kind = %(kind)s::text
    cross join lateral (
        select case when o.payload ->> 'lead_id' ~* '^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$'
                    then (o.payload ->> 'lead_id')::uuid end as lead_id,
               case when o.payload ->> 'conversion_id' ~* '^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$'
                    then (o.payload ->> 'conversion_id')::uuid end as conversion_id
    ) p
    left join public.leads l on l.organization_id = o.organization_id and l.id = p.lead_id
    left join public.conversions c on c.organization_id = o.organization_id and c.id = p.conversion_id
    where o.id = %(event)s
"""
_LINK: LiteralString = """
    insert into public.crm_links (organization_id, integration_id, lead_id) values (%(org)s, %(integration)s, %(lead)s)
    on conflict (integration_id, lead_id) do nothing
"""
_LEASE: LiteralString = """
    update public.crm_links k set lease_id = %(lease)s, lease_expires_at = now() + make_interval(secs => %(seconds)s)
    where k.integration_id = %(integration)s and k.lead_id = %(lead)s
      and (k.lease_expires_at is null or k.lease_expires_at < now())
    returning k.contact_id, k.deal_id, k.synced_step,
              k.last_event_id = %(event)s and k.last_status = 'succeeded' as done
"""
_FINISH: LiteralString = """
    update public.crm_links k set
        contact_id = coalesce(%(contact_id)s, k.contact_id),
        deal_id = coalesce(%(deal_id)s, k.deal_id),
        -- Forward only, by the one ranking (shared.crm.jobs.STEP_RANK = app.crm_step_ranks).
        synced_step = case when %(status)s = 'succeeded'
                            and coalesce((select r.rank from app.crm_step_ranks r where r.step = %(step)s), 0)
                              > coalesce((select r.rank from app.crm_step_ranks r where r.step = k.synced_step), 0)
                           then %(step)s else k.synced_step end,
        last_event_id = %(event)s, last_status = %(status)s, last_error = left(%(error)s, 500),
        synced_at = case when %(status)s = 'succeeded' then now() else k.synced_at end,
        lease_id = null, lease_expires_at = null
    where k.integration_id = %(integration)s and k.lead_id = %(lead)s and k.lease_id = %(lease)s
"""


@dataclass(frozen=True)
class Lease:
    """The link row a delivery holds: (integration, lead), taken with ``lease_id``."""

    integration_id: uuid.UUID
    lead_id: uuid.UUID
    lease_id: uuid.UUID


async def claim(job: DeliveryJob, kind: str) -> tuple[SyncJob, Lease] | Outcome:
    """The event as a SyncJob and the lead's leased link; an Outcome when there is nothing to push now."""
    async with service_session() as db:
        row = await db.one(_TARGET, {"integration": job.subscriber_id, "kind": kind, "event": job.event_id})
        refusal = _refusal(row)
        if refusal is not None or row is None:
            return refusal or Outcome("skipped", "the integration or the event no longer exists")
        found = await read_secrets(db, [row["secret_id"]]) if row["secret_id"] else {}
        if row["secret_id"] not in found:
            return Outcome("failed", "the integration has no credentials")
        lease = Lease(job.subscriber_id, row["lead_id"], uuid.uuid4())
        link = await _lease(db, row, lease, job.event_id)
        if isinstance(link, Outcome):
            return link
        sync = _sync_job(job, row, link, json.loads(found[row["secret_id"]]))
        if link["done"] or (row["payload"].get("source") == kind and not sync.advances):
            # Delivered already, or a conversion this very CRM reported: nothing new to tell it.
            await release(db, lease)
            return Outcome("skipped", "already delivered" if link["done"] else "the conversion came from this CRM")
    return sync, lease


async def finish(lease: Lease, sync: SyncJob, result: SyncResult | None, status: str, error: str | None) -> None:
    """Record how the push ended and release the lease; steps only move forward on success."""
    params = {
        "integration": lease.integration_id,
        "lead": lease.lead_id,
        "lease": lease.lease_id,
        "contact_id": result.contact_id if result else None,
        "deal_id": result.deal_id if result else None,
        "step": sync.step,
        "event": sync.event_id,
        "status": status,
        "error": error,
    }
    async with service_session() as db:
        await db.execute(_FINISH, params)


async def release(db: Session, lease: Lease) -> None:
    """Give the link back without changing it."""
    await db.execute(
        "update public.crm_links k set lease_id = null, lease_expires_at = null where k.lease_id = %s",
        (lease.lease_id,),
    )


def _refusal(row: dict[str, Any] | None) -> Outcome | None:
    if row is None:
        return None
    if not row["enabled"]:
        return Outcome("skipped", "the integration is disabled")
    if row["event_type"] not in STEPS or row["lead_id"] is None:
        return Outcome("skipped", "the event names no lead of this organization")
    if not row["email"] and not row["phone"]:
        return Outcome("skipped", "the lead has no e-mail or phone yet")
    return None


async def _lease(db: Session, row: dict[str, Any], lease: Lease, event_id: uuid.UUID) -> dict[str, Any] | Outcome:
    keys = {"org": row["organization_id"], "integration": lease.integration_id, "lead": lease.lead_id}
    await db.execute(_LINK, keys)
    link = await db.one(_LEASE, {**keys, "lease": lease.lease_id, "seconds": LEASE_SECONDS, "event": event_id})
    if link is None:
        return Outcome("failed", "another delivery for this lead is in progress")
    return link


def _sync_job(job: DeliveryJob, row: dict[str, Any], link: dict[str, Any], credentials: dict[str, str]) -> SyncJob:
    payload = row["payload"]
    return SyncJob(
        event_id=job.event_id,
        event_type=row["event_type"],
        step=STEPS[row["event_type"]],
        lead=CrmLead(row["lead_id"], row["name"], row["email"], row["phone"]),
        config=row["config"],
        credentials=credentials,
        contact_id=link["contact_id"],
        deal_id=link["deal_id"],
        synced_step=link["synced_step"],
        value=row["value"] if row["value"] is not None else _decimal(payload.get("value")),
        currency=row["currency"] or payload.get("currency"),
    )


def _decimal(value: object) -> Decimal | None:
    try:
        number = Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None
    return number if number is not None and number.is_finite() and number >= 0 else None
