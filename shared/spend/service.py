"""Budgets and usage use cases: members read, admins set (through ``public.set_budget``)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from shared.agents.config import AgentConfig, BudgetAction
from shared.auth import Principal
from shared.db import user_read, user_write
from shared.errors import InvalidInput, NotFound
from shared.observability.context import bind_organization
from shared.spend.models import Budget, BudgetList, ExhaustionPolicy, SetBudget, Usage, UsageFilters, UsageRow
from shared.turns.budget import when_exhausted

# Each budget with its current period, the ledger's spend in it, its open reservations and every agent's
# current config (their exhaustion policies), in one statement: app.budget_states (a function, so
# Postgres parses and plans it once per connection, not per request; RLS still decides what counts).
_BUDGETS = "select * from app.budget_states(%(organization_id)s)"
_SET = "select id from public.set_budget(%s, %s, %s, %s, %s, %s::numeric[])"
# One round trip: no row means the organization is not visible; one row with a null id, no budgets.
_VISIBLE_BUDGETS = """
    select b.* from public.organizations o left join lateral app.budget_states(o.id) b on true
    where o.id = %(organization_id)s order by b.agent_id nulls first, b.id
"""
_USAGE = """
    select grouping(u.model, u.alias) = 1 as total, u.model, u.alias, count(*) as calls,
           count(*) filter (where u.status = 'error') as errors,
           count(*) filter (where u.fallback_used) as fallback_calls,
           coalesce(sum(u.tokens_in), 0) as tokens_in, coalesce(sum(u.tokens_out), 0) as tokens_out,
           coalesce(sum(u.cost_usd), 0) as cost_usd
    from public.llm_usage u
    where u.organization_id = %(organization_id)s and u.created_at >= %(from)s and u.created_at < %(to)s
      and (%(agent_id)s::uuid is null or u.agent_id = %(agent_id)s::uuid)
    group by grouping sets ((u.model, u.alias), ())
    order by 1 desc, cost_usd desc, u.model, u.alias
"""
# The usage and whether the caller sees the organization, in one statement: the totals row (the empty
# grouping set) answers even over no rows, so it always carries the flag.
_VISIBLE_USAGE = (
    "select u.*, exists (select 1 from public.organizations o where o.id = %(organization_id)s) as visible"  # noqa: S608 -- constants only
    " from (" + _USAGE + ") u order by u.total desc, u.cost_usd desc, u.model, u.alias"
)


async def list_budgets(principal: Principal, organization_id: uuid.UUID) -> BudgetList:
    """Every budget of the organization with its spend, reservations and period; any member."""
    bind_organization(organization_id)
    rows = await user_read(principal.claims, _VISIBLE_BUDGETS, {"organization_id": organization_id})
    if not rows:
        raise NotFound("organization not found")
    rows = [r for r in rows if r["id"] is not None]
    policies = _policies(rows[0]["agents"]) if rows else {}
    return BudgetList(data=[_budget(r, policies) for r in rows], exhaustion_policies=list(policies.values()))


async def set_budget(principal: Principal, organization_id: uuid.UUID, body: SetBudget) -> Budget:
    """Create or replace the organization's (``agent_id`` null) or an agent's limits; admins and owners."""
    bind_organization(organization_id)
    if body.agent_id is not None and body.per_conversation_limit_usd is not None:
        raise InvalidInput.for_field(
            "body.per_conversation_limit_usd", "the per-conversation cap is set on the organization's budget"
        )
    set_ = (
        _SET,
        (
            organization_id,
            body.agent_id,
            body.limit_usd,
            body.per_conversation_limit_usd,
            body.period,
            body.alert_thresholds,
        ),
    )
    # h10writes: one round trip; the read after the write in the same script sees it, and Python picks the row.
    rows = await user_write(principal.claims, set_, (_BUDGETS, {"organization_id": organization_id}))
    found = [r for r in rows if r["agent_id"] == body.agent_id]
    if not found:
        raise NotFound("organization not found")
    return _budget(found[0], _policies(found[0]["agents"]))


async def usage(principal: Principal, filters: UsageFilters) -> Usage:
    """LLM calls, tokens and cost by model and alias in ``[from, to)``; any member."""
    bind_organization(filters.organization_id)
    params = {"organization_id": filters.organization_id, "from": filters.from_, "to": filters.to}
    rows = await user_read(principal.claims, _VISIBLE_USAGE, {**params, "agent_id": filters.agent_id})
    if not rows or not rows[0]["visible"]:
        raise NotFound("organization not found")
    totals, data = rows[0], rows[1:]
    return Usage(filters=filters, totals=_usage_row(totals), data=[_usage_row(r) for r in data])


def _policies(agents: list[dict[str, Any]]) -> dict[uuid.UUID, ExhaustionPolicy]:
    """Each agent's exhaustion policy, read from its current version's config (the one place it lives)."""
    out = {}
    for agent in agents:
        agent_id = uuid.UUID(str(agent["agent_id"]))
        try:
            config = AgentConfig.model_validate(agent["config"])
        except ValidationError:
            continue  # a config no turn could run with either; the agent page names the problem
        out[agent_id] = ExhaustionPolicy(
            agent_id=agent_id,
            on_budget_exhausted=config.on_budget_exhausted,
            fallback_model=config.fallback_model,
            effective=_lead_turn_action(config),
        )
    return out


def _lead_turn_action(config: AgentConfig) -> BudgetAction:
    """What a lead's turn does when the budget runs out (``stop`` is a follow-up step's answer only)."""
    action = when_exhausted(config).action
    assert action != "stop"
    return action


def _budget(row: dict[str, Any], policies: dict[uuid.UUID, ExhaustionPolicy]) -> Budget:
    limit, spent, reserved = row["limit_usd"], row["spent_usd"], row["reserved_usd"]
    thresholds = sorted(row["alert_thresholds"])
    return Budget.model_validate(
        {
            **row,
            "alert_thresholds": thresholds,
            "alerts_reached": [t for t in thresholds if limit > 0 and row["counter_spent_usd"] >= t * limit],
            "remaining_usd": max(Decimal(0), limit - spent - reserved),
            "exhausted": spent + reserved >= limit,
            "on_exhausted": policies.get(row["agent_id"]) if row["agent_id"] is not None else None,
        }
    )


def _usage_row(row: dict[str, Any]) -> UsageRow:
    return UsageRow.model_validate(row)
