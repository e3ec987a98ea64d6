"""Budgets and usage use cases: members read, admins set (through ``public.set_budget``)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from shared.auth import Principal
from shared.db import user_read, user_write
from shared.errors import InvalidInput, NotFound
from shared.observability.context import bind_organization
from shared.spend.models import Budget, BudgetList, SetBudget, Usage, UsageFilters, UsageRow

# The period is the calendar month as app.reserve_budget counts it; a budget whose counter is still
# on an earlier month reads as zero, which is what the next reservation resets it to.
_BUDGETS = """
    with p as (select date_trunc('month', now())::date as start)
    select b.id, b.organization_id, b.agent_id, p.start as period_start,
           (p.start + interval '1 month')::date as period_end,
           b.monthly_limit_usd, b.per_conversation_limit_usd, b.alert_threshold,
           (select coalesce(sum(u.cost_usd), 0) from public.llm_usage u
            where u.organization_id = b.organization_id and (b.agent_id is null or u.agent_id = b.agent_id)
              and u.created_at >= p.start and u.created_at < p.start + interval '1 month') as spent_usd,
           case when b.period_start < p.start then 0 else b.spent_usd end as counter_spent_usd,
           case when b.period_start < p.start then 0 else b.reserved_usd end as reserved_usd,
           (select jsonb_build_object('count', count(*), 'amount_usd', coalesce(sum(r.amount_usd), 0),
                                      'oldest_at', min(r.created_at),
                                      'expired', count(*) filter (where r.expires_at < now()))
            from public.budget_reservations r
            where r.organization_id = b.organization_id and r.status = 'reserved' and b.id = any (r.budget_ids)
           ) as reservations
    from public.budgets b cross join p
    where b.organization_id = %(organization_id)s and (%(budget_id)s::uuid is null or b.id = %(budget_id)s::uuid)
    order by b.agent_id nulls first, b.id
"""
_SET = "select id from public.set_budget(%s, %s, %s, %s, %s)"
# One round trip: no row means the organization is not visible; one row with a null id, no budgets.
_VISIBLE_BUDGETS = (
    "select b.* from public.organizations o left join lateral ("  # noqa: S608 -- constants only
    + _BUDGETS
    + ") b on true where o.id = %(organization_id)s order by b.agent_id nulls first, b.id"
)
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
    rows = await user_read(principal.claims, _VISIBLE_BUDGETS, {"organization_id": organization_id, "budget_id": None})
    if not rows:
        raise NotFound("organization not found")
    return BudgetList(data=[_budget(r) for r in rows if r["id"] is not None])


async def set_budget(principal: Principal, organization_id: uuid.UUID, body: SetBudget) -> Budget:
    """Create or replace the organization's (``agent_id`` null) or an agent's limits; admins and owners."""
    bind_organization(organization_id)
    if body.agent_id is not None and body.per_conversation_limit_usd is not None:
        raise InvalidInput.for_field(
            "body.per_conversation_limit_usd", "the per-conversation cap is set on the organization's budget"
        )
    set_ = (
        _SET,
        (organization_id, body.agent_id, body.monthly_limit_usd, body.per_conversation_limit_usd, body.alert_threshold),
    )
    # h10writes: one round trip; the read after the write in the same script sees it, and Python picks the row.
    rows = await user_write(principal.claims, set_, (_BUDGETS, {"organization_id": organization_id, "budget_id": None}))
    found = [r for r in rows if r["agent_id"] == body.agent_id]
    if not found:
        raise NotFound("organization not found")
    return _budget(found[0])


async def usage(principal: Principal, filters: UsageFilters) -> Usage:
    """LLM calls, tokens and cost by model and alias in ``[from, to)``; any member."""
    bind_organization(filters.organization_id)
    params = {"organization_id": filters.organization_id, "from": filters.from_, "to": filters.to}
    rows = await user_read(principal.claims, _VISIBLE_USAGE, {**params, "agent_id": filters.agent_id})
    if not rows or not rows[0]["visible"]:
        raise NotFound("organization not found")
    totals, data = rows[0], rows[1:]
    return Usage(filters=filters, totals=_usage_row(totals), data=[_usage_row(r) for r in data])


def _budget(row: dict[str, Any]) -> Budget:
    limit, spent, reserved = row["monthly_limit_usd"], row["spent_usd"], row["reserved_usd"]
    return Budget.model_validate(
        {
            **row,
            "remaining_usd": max(Decimal(0), limit - spent - reserved),
            "alert_reached": spent >= limit * row["alert_threshold"],
            "exhausted": spent + reserved >= limit,
        }
    )


def _usage_row(row: dict[str, Any]) -> UsageRow:
    return UsageRow.model_validate(row)
