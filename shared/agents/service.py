"""Agent use cases; each is one transaction under the caller's claims, so RLS decides who sees what."""

from __future__ import annotations

import json
import uuid
from typing import Any, LiteralString

from shared import idempotency, pagination
from shared.agents.config import CONFIG_KEYS
from shared.agents.models import Agent, AgentList, CreateAgent, UpdateAgent
from shared.agents.presets import apply_preset
from shared.agents.rules import build_config
from shared.agents.versions import expected_version
from shared.auth import Principal
from shared.db import user_read, user_write
from shared.errors import AppError, Conflict, IdempotentReplay, NotFound
from shared.idempotency import IdempotencyKey
from shared.observability import metrics
from shared.observability.context import bind_organization

# The new agent, and the same jsonb remembered as the answer to the request's Idempotency-Key (if it sent one).
_CREATE: LiteralString = """
    select c.agent, app.remember_response(%(idem_key)s, %(idem_hash)s, %(org)s, 201, c.agent, %(idem_scope)s)
    from (select public.create_agent(%(org)s, %(name)s, %(config)s::jsonb, %(origins)s) as agent) c
"""
# app.read_agent (PL/pgSQL, so its plan is kept per connection): the agent with the configuration asked for.
_AGENT: LiteralString = """
    select (r.agent).id, (r.agent).organization_id, (r.agent).name, (r.agent).status, (r.agent).current_version,
           (r.agent).publishable_key, (r.agent).allowed_origins, (r.agent).archived_at, (r.agent).created_at,
           (r.agent).updated_at, r.version, r.config, r.has_version
    from app.read_agent(%(id)s, %(version)s) r
"""
# One round trip: no row means the organization is not visible; one row with a null id, no agents (app.list_agents).
_PAGE: LiteralString = """
    select (r.agent).id, (r.agent).organization_id, (r.agent).name, (r.agent).status, (r.agent).current_version,
           (r.agent).publishable_key, (r.agent).allowed_origins, (r.agent).archived_at, (r.agent).created_at,
           (r.agent).updated_at, (r.agent).current_version as version, r.config
    from app.list_agents(%(org)s, %(archived)s, %(after_t)s, %(after_id)s, %(limit)s) r
"""


async def create_agent(
    principal: Principal, organization_id: uuid.UUID, data: CreateAgent, key: IdempotencyKey | None = None
) -> Agent:
    """Create an agent at configuration version 1; editors and above. A repeated ``key`` replays the first answer."""
    bind_organization(organization_id)
    values = data.model_dump(include=set(CONFIG_KEYS))
    if data.preset is not None:
        values = apply_preset(values, data.preset, values["qualification_fields"], values["scoring"])
    config = build_config(values)
    params = {
        "org": organization_id,
        "name": data.name,
        "config": json.dumps(config),
        "origins": data.allowed_origins,
        **idempotency.remembered(key),
    }
    try:
        rows = await user_write(principal.claims, idempotency.claim_first(key), (_CREATE, params))
    except IdempotentReplay as replay:
        raise idempotency.replayed_as(replay, Agent) from None
    if not rows:
        raise AppError("agent was not created")
    metrics.add_metric(name="AgentCreated", unit="Count", value=1)
    return Agent.model_validate(rows[0]["agent"])


async def list_agents(
    principal: Principal, organization_id: uuid.UUID, limit: int, cursor: str | None, include_archived: bool
) -> AgentList:
    """One page of the organization's agents, newest first; archived ones only when asked for."""
    bind_organization(organization_id)
    params = {
        "org": organization_id,
        "archived": include_archived,
        **pagination.bounds(pagination.decode(cursor, "query.cursor")),
    }
    rows = await user_read(principal.claims, _PAGE, {**params, "limit": limit})
    if not rows:
        raise NotFound("organization not found")
    agents = [Agent.model_validate(row) for row in rows if row["id"] is not None]
    page, more = agents[:limit], len(agents) > limit
    next_cursor = pagination.encode(page[-1].created_at, page[-1].id) if more else None
    return AgentList(data=page, next_cursor=next_cursor)


async def get_agent(principal: Principal, agent_id: uuid.UUID, version: int | None = None) -> Agent:
    """The agent with its current configuration, or with configuration ``version``."""
    rows = await user_read(principal.claims, _AGENT, {"id": agent_id, "version": version})
    return Agent.model_validate(_found(rows[0] if rows else None, version))


async def update_agent(principal: Principal, agent_id: uuid.UUID, data: UpdateAgent, if_match: str | None) -> Agent:
    """Apply a partial change; a changed configuration becomes a new version, atomically.

    The agent is read in a transaction of its own; ``public.update_agent`` writes only if it is still at the
    version read (a concurrent change is a 409), so read and write are two round trips and one decision.
    """
    expected = expected_version(data.expected_version, if_match)
    rows = await user_read(principal.claims, _AGENT, {"id": agent_id, "version": None})
    current = _found(rows[0] if rows else None, None)
    bind_organization(current["organization_id"])
    if expected is not None and expected != current["current_version"]:
        raise Conflict(f"the agent is at version {current['current_version']}, not {expected}")
    config = _merged_config(current["config"], data)
    params = (
        agent_id,
        current["current_version"],
        json.dumps(config) if config is not None else None,
        data.name,
        data.allowed_origins,
        data.rotate_publishable_key,
    )
    updated = await user_write(
        principal.claims, ("select public.update_agent(%s, %s, %s::jsonb, %s, %s, %s) as agent", params)
    )
    if not updated:
        raise AppError("agent was not updated")
    return Agent.model_validate(updated[0]["agent"])


async def archive_agent(principal: Principal, agent_id: uuid.UUID) -> None:
    """Archive the agent: it keeps its history but starts no new conversations."""
    await user_write(principal.claims, ("select public.archive_agent(%s)", (agent_id,)))
    metrics.add_metric(name="AgentArchived", unit="Count", value=1)


def _found(row: dict[str, Any] | None, version: int | None) -> dict[str, Any]:
    if row is None:
        raise NotFound("agent not found")
    if version is not None and not row["has_version"]:
        raise NotFound(f"the agent has no version {version}")
    return row


def _merged_config(current: dict[str, Any], data: UpdateAgent) -> dict[str, Any] | None:
    """The configuration after the patch (a key sent as null is reset), or None when none was sent."""
    patch = data.model_dump(include=set(CONFIG_KEYS), exclude_unset=True)
    if not patch and data.preset is None:
        return None
    merged = {key: value for key, value in {**current, **patch}.items() if value is not None}
    if data.preset is not None:
        merged = apply_preset(merged, data.preset, patch.get("qualification_fields") or [], patch.get("scoring"))
    return build_config(merged)
