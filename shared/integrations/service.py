"""Integration use cases; each is one transaction under the caller's claims, so RLS decides.

Members read integrations; owners and admins manage them. Another tenant's integration is not
found. Credentials go to Vault through ``app.set_integration_credentials`` and are never returned.
"""

from __future__ import annotations

import json
import uuid
from typing import LiteralString

from shared import pagination
from shared.auth import Principal
from shared.db import Statement, user_read, user_session, user_write
from shared.errors import AppError, Conflict, Forbidden, InvalidInput, NotFound
from shared.integrations.changes import checked_change
from shared.integrations.kinds import secret_values
from shared.integrations.models import CreateIntegration, Integration, IntegrationList, UpdateIntegration
from shared.observability import metrics
from shared.observability.context import bind_organization
from shared.whatsapp import numbers

# One round trip: no row means the organization is not visible; one row with a null id, no integrations.
# Newest first, in app.list_integrations (PL/pgSQL, so its plan is kept per connection).
_PAGE: LiteralString = "select * from app.list_integrations(%(org)s, %(kind)s, %(after_t)s, %(after_id)s, %(limit)s)"
_CURRENT: LiteralString = """
    select i.organization_id, i.kind::text as kind, i.config,
           exists (select 1 from public.agents a where a.id = %(agent_id)s and a.organization_id = i.organization_id)
               as agent_in_organization
    from public.integrations i where i.id = %(id)s
"""
_UPDATE: LiteralString = """
    update public.integrations i set
        name = coalesce(%(name)s, i.name),
        agent_id = case when %(set_agent)s then %(agent_id)s::uuid else i.agent_id end,
        external_id = case when %(set_external)s then %(external_id)s else i.external_id end,
        enabled = coalesce(%(enabled)s, i.enabled),
        config = coalesce(%(config)s::jsonb, i.config)
    where i.id = %(id)s
    returning i.id, i.organization_id, i.kind::text as kind, i.name, i.agent_id, i.external_id, i.config, i.enabled,
           i.secret_id is not null as has_credentials, i.created_at, i.updated_at
"""


async def create_integration(principal: Principal, organization_id: uuid.UUID, data: CreateIntegration) -> Integration:
    """Connect a WhatsApp number (once the Graph API shows it is the caller's) or a CRM; its credentials go to
    the vault. Admins and owners."""
    bind_organization(organization_id)
    if data.kind == "whatsapp":
        await _verify_number(data)
    params = (
        organization_id,
        data.kind,
        data.name,
        data.agent_id,
        data.external_id,
        json.dumps(data.config.model_dump(mode="json")),
        data.enabled,
        json.dumps(secret_values(data.credentials)),
    )
    try:
        async with user_session(principal.claims) as db:
            row = await db.one(
                "select public.create_integration(%s, %s::public.integration_kind, %s, %s, %s, %s::jsonb, %s, %s)"
                " as integration",
                params,
            )
    except Conflict as exc:
        if data.kind == "whatsapp":
            raise numbers.not_verified() from exc  # registered elsewhere: say no more than a failed check
        raise
    if row is None:
        raise AppError("integration was not created")
    metrics.add_metric(name="IntegrationCreated", unit="Count", value=1)
    return Integration.model_validate(row["integration"])


async def list_integrations(
    principal: Principal, organization_id: uuid.UUID, limit: int, cursor: str | None, kind: str | None
) -> IntegrationList:
    """One page of the organization's integrations, newest first; every member may list them."""
    bind_organization(organization_id)
    params = {
        "org": organization_id,
        "kind": kind,
        **pagination.bounds(pagination.decode(cursor, "query.cursor")),
        "limit": limit,
    }
    rows = await user_read(principal.claims, _PAGE, params)
    if not rows:
        raise NotFound("organization not found")
    found = [Integration.model_validate(row) for row in rows if row["id"] is not None]
    page, more = found[:limit], len(found) > limit
    next_cursor = pagination.encode(page[-1].created_at, page[-1].id) if more else None
    return IntegrationList(data=page, next_cursor=next_cursor)


async def update_integration(principal: Principal, integration_id: uuid.UUID, data: UpdateIntegration) -> Integration:
    """Change name, agent, external id, enabled, config (merged) or credentials (replaced).

    A WhatsApp number's identity (its number, WABA or token) changes only with a token that the
    Graph API shows owns the resulting number, checked before the update's transaction opens.
    """
    if {"external_id", "config", "credentials"} & data.model_fields_set:
        await _verify_number_change(principal, integration_id, data)
    # Read in a transaction of its own (one round trip): Python decides the change, then one script writes it.
    found = await user_read(principal.claims, _CURRENT, {"id": integration_id, "agent_id": data.agent_id})
    if not found:
        raise NotFound("integration not found")
    current = found[0]
    bind_organization(current["organization_id"])
    change = checked_change(current["kind"], current["config"], data)
    if data.agent_id is not None and not current["agent_in_organization"]:
        raise InvalidInput.for_field("body.agent_id", "references a missing row")
    statements: list[Statement] = []
    if change.credentials is not None:
        statements.append(("select app.set_integration_credentials(%s, %s)", (integration_id, change.credentials)))
    rows = await user_write(principal.claims, *statements, (_UPDATE, {**change.params, "id": integration_id}))
    if not rows:
        raise Forbidden("only owners and admins manage integrations")
    row = rows[0]
    return Integration.model_validate(row)


async def delete_integration(principal: Principal, integration_id: uuid.UUID) -> None:
    """Disconnect: the integration, its CRM links and its credentials in the vault go."""
    async with user_session(principal.claims) as db:
        row = await db.one(
            "delete from public.integrations i where i.id = %s returning i.organization_id", (integration_id,)
        )
        if row is None:
            visible = await db.one("select 1 from public.integrations i where i.id = %s", (integration_id,))
            if visible is None:
                raise NotFound("integration not found")
            raise Forbidden("only owners and admins manage integrations")
    bind_organization(row["organization_id"])
    metrics.add_metric(name="IntegrationDeleted", unit="Count", value=1)


async def _verify_number(data: CreateIntegration) -> None:
    """The Graph API must show the number is readable with the token and belongs to the WABA (no transaction open)."""
    token = secret_values(data.credentials).get("access_token")
    waba_id = getattr(data.config, "waba_id", None)
    if not data.external_id or not token or not waba_id:
        raise numbers.not_verified()
    await numbers.verify_ownership(data.external_id, str(waba_id), str(token))


async def _verify_number_change(principal: Principal, integration_id: uuid.UUID, data: UpdateIntegration) -> None:
    async with user_session(principal.claims) as db:
        current = await db.one(
            "select i.kind::text as kind, i.external_id, i.config from public.integrations i where i.id = %s",
            (integration_id,),
        )
    if current is None or current["kind"] != "whatsapp":
        return  # not found is answered by the update itself
    number = data.external_id if "external_id" in data.model_fields_set else current["external_id"]
    waba_id = {**(current["config"] or {}), **(data.config or {})}.get("waba_id")
    if (
        number == current["external_id"]
        and waba_id == (current["config"] or {}).get("waba_id")
        and not data.credentials
    ):
        return
    token = (data.credentials or {}).get("access_token")
    if not isinstance(token, str):
        raise InvalidInput.for_field("body.credentials", "a new number, WABA or token is checked with its token")
    if not number or not waba_id:
        raise numbers.not_verified()
    await numbers.verify_ownership(str(number), str(waba_id), token)
