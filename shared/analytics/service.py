"""Run a report for a member of the organization, under their claims (RLS decides what counts)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from shared.analytics.models import Number, Report, ReportFilters, ReportGroup, ReportName
from shared.analytics.reports import FILTERS, VISIBLE, report_sql
from shared.auth import Principal
from shared.db import user_read
from shared.errors import NotFound
from shared.observability.context import bind_organization

# The reports sort 100k-row groups for distinct leads and medians: enough memory that they never spill
# to disk, for this transaction only (set in the read's opening statement, so no extra round trip).
WORK_MEM = "64MB"


async def run_report(principal: Principal, report: ReportName, filters: ReportFilters) -> Report:
    """The report's totals and groups for conversations started in ``[from, to)``; 404 for non-members."""
    bind_organization(filters.organization_id)
    params = _params(filters)
    sql = report_sql(report, filters.group_by, [name for name in FILTERS if params[name] is not None])
    rows = await user_read(principal.claims, sql, params, work_mem=WORK_MEM)
    if not rows or not rows[0][VISIBLE]:
        raise NotFound("organization not found")
    totals_row = next(r for r in rows if r["key"] is None)
    groups = [ReportGroup(key=r["key"], metrics=_numbers(r)) for r in rows if r["key"] is not None]
    refreshed = totals_row["rollup_refreshed_at"]
    return Report(
        report=report, filters=filters, rollup_refreshed_at=refreshed, totals=_numbers(totals_row), groups=groups
    )


def _params(filters: ReportFilters) -> dict[str, Any]:
    return {
        "organization_id": filters.organization_id,
        "from": filters.from_,
        "to": filters.to,
        "agent_id": filters.agent_id,
        "agent_version": filters.agent_version,
        "channel": filters.channel,
        "experiment_id": filters.experiment_id,
    }


def _numbers(row: dict[str, Any]) -> dict[str, Number]:
    """Postgres numerics as JSON numbers (sums of numeric(16, 6) fit a double exactly enough to compare)."""
    out: dict[str, Number] = {}
    for name, value in row.items():
        if name in ("key", "rollup_refreshed_at", VISIBLE):
            continue
        out[name] = float(value) if isinstance(value, Decimal) else value
    return out
