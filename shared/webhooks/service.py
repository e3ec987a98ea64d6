"""Webhook endpoint use cases; each is one transaction under the caller's claims, so RLS decides.

Members read endpoints and the delivery log; owners and admins manage endpoints. Another
tenant's endpoint is not found. A signing secret is returned by create and rotate, never again.
"""

from __future__ import annotations

import uuid
from typing import Any, LiteralString

from shared import idempotency, pagination
from shared.auth import Principal
from shared.db import Session, user_read, user_session, user_write
from shared.errors import AppError, Forbidden, IdempotentReplay, NotFound
from shared.events.ids import delivery_public_id, event_public_id
from shared.idempotency import IdempotencyKey
from shared.observability import metrics
from shared.observability.context import bind_organization
from shared.webhooks.models import (
    CreateWebhookEndpoint,
    RotateWebhookSecret,
    UpdateWebhookEndpoint,
    WebhookDelivery,
    WebhookDeliveryList,
    WebhookEndpoint,
    WebhookEndpointWithSecret,
)

# The new endpoint with its secret; remembered for the request's Idempotency-Key without the secret, which
# stays in Vault only (a replay issues a new one: create_endpoint).
_CREATE: LiteralString = """
    select c.endpoint,
           app.remember_response(%(idem_key)s, %(idem_hash)s, %(org)s, 201, c.endpoint - 'secret', %(idem_scope)s)
    from (select public.create_webhook_endpoint(%(org)s, %(url)s, %(events)s::public.event_type[], %(description)s,
                                                %(enabled)s) as endpoint) c
"""
# One round trip: no row means the organization is not visible; one row with a null id, no endpoints.
# Oldest first, from PL/pgSQL, so its plan is kept per connection.
_LIST: LiteralString = "select * from app.list_webhook_endpoints(%s)"
_UPDATE: LiteralString = """
    update public.webhook_endpoints e set
        url = coalesce(%(url)s, e.url),
        description = coalesce(%(description)s, e.description),
        events = coalesce(%(events)s::public.event_type[], e.events),
        enabled = coalesce(%(enabled)s, e.enabled)
    where e.id = %(id)s
    returning e.id, e.organization_id, e.url, e.description, e.events::text[] as events, e.enabled,
              case when e.previous_secret_expires_at > now() then e.previous_secret_expires_at end
                  as previous_secret_expires_at,
              e.created_at, e.updated_at
"""
# Newest first, limit + 1 rows; no row: the endpoint is not visible. PL/pgSQL, so its plan is kept per connection.
_DELIVERIES: LiteralString = (
    "select * from app.list_webhook_deliveries(%(endpoint)s, %(after_t)s, %(after_id)s, %(limit)s)"
)


async def create_endpoint(
    principal: Principal, organization_id: uuid.UUID, data: CreateWebhookEndpoint, key: IdempotencyKey | None = None
) -> WebhookEndpointWithSecret:
    """Register an endpoint; its signing secret is in this response only. Admins and owners.

    A repeated ``key`` answers with the endpoint the first request made and a new secret: the first
    answer's secret was kept in Vault only, and stops signing now (nobody saw it, or the caller is
    retrying because it did not).
    """
    bind_organization(organization_id)
    params = {
        "org": organization_id,
        "url": data.url,
        "events": list(data.events),
        "description": data.description,
        "enabled": data.enabled,
        **idempotency.remembered(key),
    }
    try:
        rows = await user_write(principal.claims, idempotency.claim_first(key), (_CREATE, params))
    except IdempotentReplay as replay:
        made = uuid.UUID(str(replay.body["id"]))
        reissued = await rotate_secret(principal, made, RotateWebhookSecret(grace_period_hours=0))
        raise IdempotentReplay(replay.status, reissued.model_dump(mode="json")) from None
    row = rows[0] if rows else None
    if row is None:
        raise AppError("webhook endpoint was not created")
    metrics.add_metric(name="WebhookEndpointCreated", unit="Count", value=1)
    return WebhookEndpointWithSecret.model_validate(row["endpoint"])


async def list_endpoints(principal: Principal, organization_id: uuid.UUID) -> list[WebhookEndpoint]:
    """The organization's endpoints, oldest first; every member may list them."""
    bind_organization(organization_id)
    rows = await user_read(principal.claims, _LIST, (organization_id,))
    if not rows:
        raise NotFound("organization not found")
    return [WebhookEndpoint.model_validate(row) for row in rows if row["id"] is not None]


async def update_endpoint(principal: Principal, endpoint_id: uuid.UUID, data: UpdateWebhookEndpoint) -> WebhookEndpoint:
    """Change url, events, description or enabled; fields not sent keep their value."""
    params = {**data.model_dump(), "id": endpoint_id}
    async with user_session(principal.claims) as db:
        row = await db.one(_UPDATE, params)
        if row is None:
            raise await _refusal(db, endpoint_id)
    bind_organization(row["organization_id"])
    return WebhookEndpoint.model_validate(row)


async def rotate_secret(
    principal: Principal, endpoint_id: uuid.UUID, data: RotateWebhookSecret
) -> WebhookEndpointWithSecret:
    """Issue a new signing secret (returned once); the old one keeps signing for the grace period."""
    async with user_session(principal.claims) as db:
        row = await db.one(
            "select public.rotate_webhook_secret(%s, make_interval(hours => %s)) as endpoint",
            (endpoint_id, data.grace_period_hours),
        )
    if row is None:
        raise AppError("webhook secret was not rotated")
    endpoint = WebhookEndpointWithSecret.model_validate(row["endpoint"])
    bind_organization(endpoint.organization_id)
    return endpoint


async def delete_endpoint(principal: Principal, endpoint_id: uuid.UUID) -> None:
    """Delete an endpoint with its delivery log; its secrets leave the vault with it."""
    async with user_session(principal.claims) as db:
        row = await db.one(
            "delete from public.webhook_endpoints e where e.id = %s returning e.organization_id", (endpoint_id,)
        )
        if row is None:
            raise await _refusal(db, endpoint_id)
    bind_organization(row["organization_id"])


async def list_deliveries(
    principal: Principal, endpoint_id: uuid.UUID, limit: int, cursor: str | None
) -> WebhookDeliveryList:
    """One page of the endpoint's delivery attempts, newest first; every member may read it."""
    params = {"endpoint": endpoint_id, **pagination.bounds(pagination.decode(cursor, "query.cursor")), "limit": limit}
    rows = await user_read(principal.claims, _DELIVERIES, params)
    if not rows:
        raise NotFound("webhook endpoint not found")
    bind_organization(rows[0]["organization_id"])
    attempts = [row for row in rows if row["id"] is not None]
    page, more = attempts[:limit], len(attempts) > limit
    next_cursor = pagination.encode(page[-1]["created_at"], page[-1]["id"]) if more else None
    return WebhookDeliveryList(data=[_delivery(row) for row in page], next_cursor=next_cursor)


async def _refusal(db: Session, endpoint_id: uuid.UUID) -> AppError:
    """Why a write touched no row: the endpoint is visible (so the role is too weak) or it is not."""
    visible = await db.one("select 1 from public.webhook_endpoints e where e.id = %s", (endpoint_id,))
    if visible is None:
        return NotFound("webhook endpoint not found")
    return Forbidden("only owners and admins manage webhook endpoints")


def _delivery(row: dict[str, Any]) -> WebhookDelivery:
    return WebhookDelivery.model_validate(
        {**row, "id": delivery_public_id(row["id"]), "event_id": event_public_id(row["event_id"])}
    )
