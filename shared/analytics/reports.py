"""The SQL of each report: its metrics, the grouping dimensions and the shared filters.

Every number is computed in Postgres over ``public.analytics_conversations`` (one rollup row per
conversation), read as the caller, so RLS decides which organizations' rows count. One statement
per report, in stages that each hash or sort the matching rows once:

- ``base``: the matching conversations with their dimension values (all pre-computed columns of
  the rollup row; no join at read time);
- ``conv``: the per-conversation numbers (sums, counts, medians) by ``grouping sets ((dimensions), ())``;
- ``per_lead`` / ``leads`` (reports that count leads): one row per group and lead with what the lead
  reached, then counted; a lead counts once per group however many conversations it had;
- the result joins the two on the group. The row whose key is null is the totals row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import LiteralString

from shared.analytics.models import Dimension, ReportName

# dimension -> the rollup columns it groups by (each also a field of the group's key, by that name)
DIMENSIONS: dict[Dimension, tuple[LiteralString, ...]] = {
    "agent": ("agent_id",),
    "agent_version": ("agent_id", "agent_version"),
    "channel": ("channel",),
    "experiment_variant": ("experiment_variant_id", "experiment_id", "variant_version"),
    "day": ("day",),
    "week": ("week",),
}
# column -> how ``base`` computes it from the rollup row ``a``
_COLUMNS: dict[LiteralString, LiteralString] = {
    "agent_id": "a.agent_id",
    "agent_version": "a.agent_version",
    "channel": "a.channel",
    "experiment_variant_id": "a.experiment_variant_id",
    "experiment_id": "a.experiment_id",
    "variant_version": "a.variant_version",
    "day": "(a.started_at at time zone 'UTC')::date",
    "week": "date_trunc('week', a.started_at at time zone 'UTC')::date",
}


@dataclass(frozen=True)
class _Report:
    conv: LiteralString  # aggregates over the matching conversations ``a``
    result: LiteralString  # the response columns, over ``c`` (conv) and ``l`` (leads)
    leads: bool = False  # whether ``l`` is needed


_LEAD_RATES: LiteralString = """
    l.engaged::float8 / nullif(l.leads, 0) as engaged_rate,
    l.qualified::float8 / nullif(l.engaged, 0) as engaged_to_qualified_rate,
    l.converted::float8 / nullif(l.qualified, 0) as qualified_to_converted_rate,
    l.converted::float8 / nullif(l.leads, 0) as conversion_rate
"""

REPORTS: dict[ReportName, _Report] = {
    "funnel": _Report(
        conv="""
            count(*) as conversations,
            percentile_cont(0.5) within group (order by extract(epoch from a.qualified_at - a.started_at))
                filter (where a.qualified_at is not null) as median_seconds_to_qualify,
            percentile_cont(0.5) within group (order by extract(epoch from a.converted_at - a.started_at))
                filter (where a.converted_at is not null) as median_seconds_to_convert
        """,
        result="""
            c.conversations, coalesce(l.leads, 0) as leads, coalesce(l.engaged, 0) as engaged,
            coalesce(l.qualified, 0) as qualified, coalesce(l.converted, 0) as converted,
        """
        + _LEAD_RATES
        + """,
            c.median_seconds_to_qualify, c.median_seconds_to_convert
        """,
        leads=True,
    ),
    "outcomes": _Report(
        conv="""
            count(*) as conversations,
            sum(a.conversions) as conversions,
            sum(a.conversion_value) as conversion_value,
            count(*) filter (where a.handed_off_at is not null) as handoffs,
            count(*) filter (where a.opted_out) as opt_outs,
            count(*) filter (where a.lost) as lost
        """,
        result="""
            c.conversations, c.conversions, c.conversion_value, coalesce(l.converted, 0) as converted_leads,
            c.handoffs, c.opt_outs, c.lost
        """,
        leads=True,
    ),
    "cost": _Report(
        conv="""
            count(*) as conversations,
            sum(a.llm_cost_usd) as llm_cost_usd,
            sum(a.tokens_in) as tokens_in,
            sum(a.tokens_out) as tokens_out,
            sum(a.llm_calls) as llm_calls,
            sum(a.llm_fallback_calls) as llm_fallback_calls,
            sum(a.llm_errors) as llm_errors,
            sum(a.conversions) as conversions,
            sum(a.conversion_value) as conversion_value
        """,
        result="""
            c.conversations, c.llm_cost_usd, c.tokens_in, c.tokens_out, c.llm_calls, c.llm_fallback_calls,
            c.llm_errors,
            c.llm_fallback_calls::float8 / nullif(c.llm_calls, 0) as fallback_rate,
            c.llm_cost_usd / nullif(c.conversations, 0) as cost_per_conversation,
            c.llm_cost_usd / nullif(l.qualified, 0) as cost_per_qualified_lead,
            c.llm_cost_usd / nullif(c.conversions, 0) as cost_per_conversion,
            c.conversion_value,
            c.conversion_value / nullif(c.llm_cost_usd, 0) as revenue_per_usd
        """,
        leads=True,
    ),
    "quality": _Report(
        conv="""
            count(*) as conversations,
            sum(a.lead_messages) as lead_messages,
            sum(a.assistant_messages) as turns,
            sum(a.human_messages) as human_messages,
            count(*) filter (where a.handed_off_at is not null) as handoffs
        """,
        result="""
            c.conversations, c.lead_messages, c.turns,
            c.turns::float8 / nullif(c.conversations, 0) as turns_per_conversation,
            c.human_messages, c.handoffs,
            c.handoffs::float8 / nullif(c.conversations, 0) as handoff_share
        """,
    ),
}

_WHERE: LiteralString = """
    from public.analytics_conversations a
    where a.organization_id = %(organization_id)s
      and a.started_at >= %(from)s and a.started_at < %(to)s
      and (%(agent_id)s::uuid is null or a.agent_id = %(agent_id)s::uuid)
      and (%(agent_version)s::integer is null or a.agent_version = %(agent_version)s::integer)
      and (%(channel)s::text is null or a.channel = %(channel)s::text)
      and (%(experiment_id)s::uuid is null or a.experiment_id = %(experiment_id)s::uuid)
"""


def _columns(group_by: Sequence[Dimension]) -> list[LiteralString]:
    columns: list[LiteralString] = []
    for dimension in group_by:
        columns.extend(c for c in DIMENSIONS[dimension] if c not in columns)
    return columns


def report_sql(report: ReportName, group_by: Sequence[Dimension]) -> LiteralString:
    """One statement: the totals row (key null) and, when grouped, one row per group."""
    spec = REPORTS[report]
    columns = _columns(group_by)
    dims = _sql(*(_sql(", ", c) for c in columns))  # ", agent_id, week" or ""
    base = _sql(
        "with base as materialized (select a.lead_id, a.started_at, a.engaged_at, a.qualified_at, a.handed_off_at,"
        " a.converted_at, a.lost, a.opted_out, a.conversions, a.conversion_value, a.lead_messages,"
        " a.assistant_messages, a.human_messages, a.llm_calls, a.llm_fallback_calls, a.llm_errors, a.tokens_in,"
        " a.tokens_out, a.llm_cost_usd, a.refreshed_at",
        *(_sql(", ", _COLUMNS[c], " as ", c) for c in columns),
        _WHERE,
        ")",
    )
    if columns:
        listed = ", ".join(columns)
        sets = _sql("grouping sets ((", listed, "), ())")
        lead_sets = _sql("grouping sets ((", listed, ", a.lead_id), (a.lead_id))")
        flag = _sql("grouping(", listed, ")")
    else:
        sets, lead_sets, flag = "()", "a.lead_id", "0"  # one group: the totals
    conv = _sql(
        ", conv as (select ", flag, " as g", dims, ", max(a.refreshed_at) as rollup_refreshed_at, ", spec.conv,
        " from base a group by ", sets, ")",
    )  # fmt: skip
    leads: LiteralString = ""
    join: LiteralString = ""
    if spec.leads:
        leads = _sql(
            ", per_lead as (select ", flag, " as g", dims,
            ", bool_or(a.engaged_at is not null) as engaged, bool_or(a.qualified_at is not null) as qualified,"
            " bool_or(a.converted_at is not null) as converted from base a group by ", lead_sets,
            "), leads as (select g", dims,
            ", count(*) as leads, count(*) filter (where engaged) as engaged,"
            " count(*) filter (where qualified) as qualified, count(*) filter (where converted) as converted"
            " from per_lead group by g", dims, ")",
        )  # fmt: skip
        join = _sql(
            " left join leads l on l.g = c.g", *(_sql(" and l.", c, " is not distinct from c.", c) for c in columns)
        )
    key: LiteralString = (
        _sql(
            "case when c.g = 0 then jsonb_build_object(", ", ".join(_sql("'", c, "', c.", c) for c in columns), ") end"
        )
        if columns
        else "null::jsonb"
    )
    return _sql(
        base, conv, leads, " select ", key, " as key, c.rollup_refreshed_at, ", spec.result, " from conv c", join,
        " order by 1 nulls first",
    )  # fmt: skip


def _sql(*parts: LiteralString) -> LiteralString:
    """Fixed SQL fragments (never input) joined into one statement."""
    return "".join(parts)
