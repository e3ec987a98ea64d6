"""The SQL of each report: its metrics, the grouping dimensions and the shared filters.

Every number is computed in Postgres over ``public.analytics_conversations`` (one rollup row per
conversation), read as the caller, so RLS decides which organizations' rows count. A query groups
by ``grouping sets ((dimensions), ())``: the row whose key is null is the totals row. Every dimension
is a stored column of the rollup row (the variant's experiment and version are copied into it, the
UTC day and week and the seconds to qualify and convert are generated columns), so a read joins
nothing and computes no per-row expression.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import LiteralString

from shared.analytics.models import Dimension, ReportName

# dimension -> (SQL expressions it groups by, jsonb key fields)
DIMENSIONS: dict[Dimension, tuple[tuple[LiteralString, ...], LiteralString]] = {
    "agent": (("a.agent_id",), "'agent_id', a.agent_id"),
    "agent_version": (("a.agent_id", "a.agent_version"), "'agent_id', a.agent_id, 'agent_version', a.agent_version"),
    "channel": (("a.channel",), "'channel', a.channel"),
    "experiment_variant": (
        ("a.experiment_variant_id", "a.experiment_id", "a.variant_version"),
        "'experiment_variant_id', a.experiment_variant_id, 'experiment_id', a.experiment_id,"
        " 'variant_version', a.variant_version",
    ),
    "day": (("a.day",), "'day', a.day"),
    "week": (("a.week",), "'week', a.week"),
}

_QUALIFIED_LEADS: LiteralString = "count(distinct a.lead_id) filter (where a.qualified_at is not null)"

METRICS: dict[ReportName, LiteralString] = {
    "funnel": """
        count(*) as conversations,
        count(distinct a.lead_id) as leads,
        count(distinct a.lead_id) filter (where a.engaged_at is not null) as engaged,
        count(distinct a.lead_id) filter (where a.qualified_at is not null) as qualified,
        count(distinct a.lead_id) filter (where a.converted_at is not null) as converted,
        (count(distinct a.lead_id) filter (where a.engaged_at is not null))::float8
            / nullif(count(distinct a.lead_id), 0) as engaged_rate,
        (count(distinct a.lead_id) filter (where a.qualified_at is not null))::float8
            / nullif(count(distinct a.lead_id) filter (where a.engaged_at is not null), 0) as engaged_to_qualified_rate,
        (count(distinct a.lead_id) filter (where a.converted_at is not null))::float8
            / nullif(count(distinct a.lead_id) filter (where a.qualified_at is not null), 0)
            as qualified_to_converted_rate,
        (count(distinct a.lead_id) filter (where a.converted_at is not null))::float8
            / nullif(count(distinct a.lead_id), 0) as conversion_rate,
        percentile_cont(0.5) within group (order by a.seconds_to_qualify)
            filter (where a.qualified_at is not null) as median_seconds_to_qualify,
        percentile_cont(0.5) within group (order by a.seconds_to_convert)
            filter (where a.converted_at is not null) as median_seconds_to_convert
    """,
    "outcomes": """
        count(*) as conversations,
        sum(a.conversions) as conversions,
        sum(a.conversion_value) as conversion_value,
        count(distinct a.lead_id) filter (where a.converted_at is not null) as converted_leads,
        count(*) filter (where a.handed_off_at is not null) as handoffs,
        count(*) filter (where a.opted_out) as opt_outs,
        count(*) filter (where a.lost) as lost
    """,
    "cost": """
        count(*) as conversations,
        sum(a.llm_cost_usd) as llm_cost_usd,
        sum(a.tokens_in) as tokens_in,
        sum(a.tokens_out) as tokens_out,
        sum(a.llm_calls) as llm_calls,
        sum(a.llm_fallback_calls) as llm_fallback_calls,
        sum(a.llm_errors) as llm_errors,
        sum(a.llm_fallback_calls)::float8 / nullif(sum(a.llm_calls), 0) as fallback_rate,
        sum(a.llm_cost_usd) / nullif(count(*), 0) as cost_per_conversation,
        sum(a.llm_cost_usd) / nullif("""
    + _QUALIFIED_LEADS
    + """, 0) as cost_per_qualified_lead,
        sum(a.llm_cost_usd) / nullif(sum(a.conversions), 0) as cost_per_conversion,
        sum(a.conversion_value) as conversion_value,
        sum(a.conversion_value) / nullif(sum(a.llm_cost_usd), 0) as revenue_per_usd
    """,
    "quality": """
        count(*) as conversations,
        sum(a.lead_messages) as lead_messages,
        sum(a.assistant_messages) as turns,
        sum(a.assistant_messages)::float8 / nullif(count(*), 0) as turns_per_conversation,
        sum(a.human_messages) as human_messages,
        count(*) filter (where a.handed_off_at is not null) as handoffs,
        (count(*) filter (where a.handed_off_at is not null))::float8 / nullif(count(*), 0) as handoff_share
    """,
}

_FROM: LiteralString = """
    from public.analytics_conversations a
    where a.organization_id = %(organization_id)s
      and a.started_at >= %(from)s and a.started_at < %(to)s
      and (%(agent_id)s::uuid is null or a.agent_id = %(agent_id)s::uuid)
      and (%(agent_version)s::integer is null or a.agent_version = %(agent_version)s::integer)
      and (%(channel)s::text is null or a.channel = %(channel)s::text)
      and (%(experiment_id)s::uuid is null or a.experiment_id = %(experiment_id)s::uuid)
"""


def report_sql(report: ReportName, group_by: Sequence[Dimension]) -> LiteralString:
    """One statement: the totals row (key null) and, when grouped, one row per group."""
    metrics = METRICS[report]
    if not group_by:
        return "select null::jsonb as key, max(a.refreshed_at) as rollup_refreshed_at, " + metrics + _FROM
    columns: list[LiteralString] = []
    fields: list[LiteralString] = []
    for dimension in group_by:
        exprs, key = DIMENSIONS[dimension]
        columns.extend(e for e in exprs if e not in columns)
        fields.append(key)
    grouped = ", ".join(columns)
    key_sql = "case when grouping(" + grouped + ") = 0 then jsonb_build_object(" + ", ".join(fields) + ") end"
    return (
        "select "
        + key_sql
        + " as key, max(a.refreshed_at) as rollup_refreshed_at, "
        + metrics
        + _FROM
        + " group by grouping sets (("
        + grouped
        + "), ()) order by 1 nulls first"
    )
