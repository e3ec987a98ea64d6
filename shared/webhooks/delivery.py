"""The ``webhook`` subscriber kind: which endpoints want an event, and one logged attempt to deliver it.

Each attempt is a row of ``public.webhook_deliveries``: inserted ``pending`` (with the secrets
read) in one short transaction, completed in another after the POST, so no transaction stays
open while a receiver answers.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import LiteralString

from shared.db import Session, service_session
from shared.events.delivery import DeliveryJob, OutboxEvent, Outcome
from shared.secrets_store import read_secrets
from shared.webhooks.sender import Response, Target, post

_FAN_OUT: LiteralString = """
    select ev.id as event_id, e.id as endpoint_id
    from unnest(%(ids)s::uuid[], %(orgs)s::uuid[], %(types)s::public.event_type[]) as ev (id, organization_id, type)
    join public.webhook_endpoints e on e.organization_id = ev.organization_id and ev.type = any (e.events)
    where e.enabled
"""
_TARGET: LiteralString = """
    select e.id as endpoint_id, e.organization_id, e.url, e.enabled, o.id as event_id, o.type::text as event_type,
           o.payload, o.created_at,
           array_remove(array[e.secret_id, case when e.previous_secret_expires_at > now()
                                                then e.previous_secret_id end], null) as secret_ids,
           exists (select 1 from public.webhook_deliveries d
                   where d.endpoint_id = e.id and d.event_id = o.id and d.status = 'succeeded') as delivered
    from public.event_outbox o
    join public.webhook_endpoints e on e.id = %(endpoint)s and e.organization_id = o.organization_id
    where o.id = %(event)s
"""
_START: LiteralString = """
    insert into public.webhook_deliveries (id, organization_id, endpoint_id, event_id, event_type, attempt)
    values (%(id)s, %(organization_id)s, %(endpoint_id)s, %(event_id)s, %(event_type)s::public.event_type, %(attempt)s)
"""
_FINISH: LiteralString = """
    update public.webhook_deliveries set
        status = case when %(ok)s then 'succeeded' else 'failed' end,
        response_status = %(status)s, response_body = %(body)s, error = left(%(error)s, 500),
        duration_ms = %(duration_ms)s, completed_at = now(),
        next_attempt_at = case when not %(ok)s and %(retry_in)s::integer is not null
                               then now() + make_interval(secs => %(retry_in)s::integer) end
    where id = %(id)s
"""


class WebhookDeliverer:
    """Delivers events to the organization's enabled endpoints subscribed to their type."""

    kind = "webhook"

    async def fan_out(self, db: Session, events: Sequence[OutboxEvent]) -> list[DeliveryJob]:
        """One job per (event, enabled endpoint of its organization that lists its type)."""
        params = {
            "ids": [e.id for e in events],
            "orgs": [e.organization_id for e in events],
            "types": [e.type for e in events],
        }
        rows = await db.all(_FAN_OUT, params)
        return [DeliveryJob(row["event_id"], self.kind, row["endpoint_id"]) for row in rows]

    async def deliver(self, job: DeliveryJob) -> Outcome:
        """Sign and POST the event; a non-2xx answer or a network error is ``failed`` (and retried)."""
        delivery_id = uuid.uuid4()
        target = await _start_attempt(job, delivery_id)
        if isinstance(target, Outcome):
            return target
        response = await post(target, delivery_id)
        await _finish_attempt(delivery_id, response, job.retry_in)
        return Outcome("succeeded", "") if response.ok else Outcome("failed", response.error or "")


async def _start_attempt(job: DeliveryJob, delivery_id: uuid.UUID) -> Target | Outcome:
    async with service_session() as db:
        row = await db.one(_TARGET, {"endpoint": job.subscriber_id, "event": job.event_id})
        if row is None:
            return Outcome("skipped", "the endpoint or the event no longer exists")
        if not row["enabled"] or row["delivered"]:
            return Outcome("skipped", "the endpoint is disabled" if not row["enabled"] else "already delivered")
        found = await read_secrets(db, row["secret_ids"])
        secrets = [found[secret_id] for secret_id in row["secret_ids"] if secret_id in found]
        if not secrets:
            return Outcome("failed", "the endpoint has no signing secret")
        await db.execute(_START, {**row, "id": delivery_id, "attempt": job.attempt})
    fields = ("endpoint_id", "organization_id", "url", "event_id", "event_type", "payload", "created_at")
    return Target(secrets=secrets, **{name: row[name] for name in fields})


async def _finish_attempt(delivery_id: uuid.UUID, response: Response, retry_in: int | None) -> None:
    params = {
        "id": delivery_id,
        "ok": response.ok,
        "status": response.status,
        "body": response.body,
        "error": response.error,
        "duration_ms": response.duration_ms,
        "retry_in": retry_in,
    }
    async with service_session() as db:
        await db.execute(_FINISH, params)
