"""The SQL of each report: its metrics, the grouping dimensions and the shared filters.

Every number is computed in Postgres over ``public.analytics_conversations`` (one rollup row per
conversation), read as the caller, so RLS decides which organizations' rows count. A query groups
by ``grouping sets ((dimensions), ())``: the row whose key is null is the totals row. The outcomes
and cost reports count their distinct leads (converted, qualified) in a second pass over those rows
alone, so their sums are hashed without sorting every row. Every dimension
is a stored column of the rollup row (the variant's experiment and version are copied into it, the
UTC day and week and the seconds to qualify and convert are generated columns), so a read joins
nothing and computes no per-row expression. The quality report's unanswered knowledge questions are
null for an organization without a knowledge source (one uncorrelated exists, evaluated once).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import LiteralString

from shared.analytics.models import Dimension, Filter, ReportName

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
    "quality": """
        count(*) as conversations,
        sum(a.lead_messages) as lead_messages,
        sum(a.assistant_messages) as turns,
        sum(a.assistant_messages)::float8 / nullif(count(*), 0) as turns_per_conversation,
        sum(a.human_messages) as human_messages,
        count(*) filter (where a.handed_off_at is not null) as handoffs,
        (count(*) filter (where a.handed_off_at is not null))::float8 / nullif(count(*), 0) as handoff_share,
        case when exists (select 1 from public.knowledge_documents k where k.organization_id = %(organization_id)s)
            then coalesce(sum(a.unanswered_questions), 0) end as unanswered_questions
    """,
}


@dataclass(frozen=True)
class _Split:
    """A report whose one count of distinct leads runs apart, over the few rows it needs (``q``).

    Its other numbers are sums and counts (``s``), which Postgres hashes in one pass without sorting
    every matching row, as a ``count(distinct)`` beside them would make it do.
    """

    sums: LiteralString  # aggregates over the matching conversations ``a``
    leads_where: LiteralString  # which conversations' leads ``q.n`` counts, once each per group
    result: LiteralString  # the response columns, over ``s`` and ``q``


SPLIT: dict[ReportName, _Split] = {
    "outcomes": _Split(
        sums="""
            count(*) as conversations,
            sum(a.conversions) as conversions,
            sum(a.conversion_value) as conversion_value,
            count(*) filter (where a.handed_off_at is not null) as handoffs,
            count(*) filter (where a.opted_out) as opt_outs,
            count(*) filter (where a.lost) as lost
        """,
        leads_where="a.converted_at is not null",
        result="""
            s.conversations, s.conversions, s.conversion_value, coalesce(q.n, 0) as converted_leads, s.handoffs,
            s.opt_outs, s.lost
        """,
    ),
    "cost": _Split(
        sums="""
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
        leads_where="a.qualified_at is not null",
        result="""
            s.conversations, s.llm_cost_usd, s.tokens_in, s.tokens_out, s.llm_calls, s.llm_fallback_calls,
            s.llm_errors,
            s.llm_fallback_calls::float8 / nullif(s.llm_calls, 0) as fallback_rate,
            s.llm_cost_usd / nullif(s.conversations, 0) as cost_per_conversation,
            s.llm_cost_usd / nullif(q.n, 0) as cost_per_qualified_lead,
            s.llm_cost_usd / nullif(s.conversions, 0) as cost_per_conversion,
            s.conversion_value,
            s.conversion_value / nullif(s.llm_cost_usd, 0) as revenue_per_usd
        """,
    ),
}

_FROM: LiteralString = """
    from public.analytics_conversations a
    where a.organization_id = %(organization_id)s
      and a.started_at >= %(from)s and a.started_at < %(to)s"""
# The optional filters: a statement names only those the request set, so Postgres parses and plans
# no condition that is always true (and the client binds no parameter that is always null).
FILTERS: dict[Filter, LiteralString] = {
    "agent_id": " and a.agent_id = %(agent_id)s::uuid",
    "agent_version": " and a.agent_version = %(agent_version)s::integer",
    "channel": " and a.channel = %(channel)s::text",
    "experiment_id": " and a.experiment_id = %(experiment_id)s::uuid",
}
# On every row, whether the caller sees the organization: a report always has its totals row (the
# empty grouping set answers even over no rows), so a non-member gets that row with the flag false.
VISIBLE: LiteralString = "_organization_visible"
_VISIBLE_COLUMN: LiteralString = (
    ", exists (select 1 from public.organizations o where o.id = %(organization_id)s) as "  # noqa: S608 -- constants only
    + VISIBLE
)


def report_sql(report: ReportName, group_by: Sequence[Dimension], filters: Collection[Filter] = ()) -> LiteralString:
    """One statement: the totals row (key null) and, when grouped, one row per group, each with ``VISIBLE``.

    ``filters`` names the optional filters the request set (the others are not in the statement).
    """
    key: LiteralString = "null::jsonb"
    grouping: LiteralString = ""
    if group_by:
        columns: list[LiteralString] = []
        fields: list[LiteralString] = []
        for dimension in group_by:
            exprs, field = DIMENSIONS[dimension]
            columns.extend(e for e in exprs if e not in columns)
            fields.append(field)
        listed = ", ".join(columns)
        key = _sql("case when grouping(", listed, ") = 0 then jsonb_build_object(", ", ".join(fields), ") end")
        grouping = _sql(" group by grouping sets ((", listed, "), ())")
    where = _sql(_FROM, *(condition for name, condition in FILTERS.items() if name in filters))
    split = SPLIT.get(report)
    if split is None:
        return _sql(
            "select ", key, " as key, max(a.refreshed_at) as rollup_refreshed_at, ", METRICS[report], _VISIBLE_COLUMN,
            where, grouping, " order by 1 nulls first",
        )  # fmt: skip
    return _sql(
        "with s as (select ", key, " as key, max(a.refreshed_at) as rollup_refreshed_at, ", split.sums, where,
        grouping, "), q as (select ", key, " as key, count(distinct a.lead_id) as n", where, " and (",
        split.leads_where, ")", grouping, ") select s.key, s.rollup_refreshed_at, ", split.result, _VISIBLE_COLUMN,
        " from s left join q on q.key is not distinct from s.key order by 1 nulls first",
    )  # fmt: skip


def _sql(*parts: LiteralString) -> LiteralString:
    """Fixed SQL fragments (never input) joined into one statement."""
    return "".join(parts)
