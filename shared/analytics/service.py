"""Run a report for a member of the organization, under their claims (RLS decides what counts)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from shared.analytics.models import Number, Report, ReportFilters, ReportGroup, ReportName
from shared.analytics.reports import report_sql
from shared.auth import Principal
from shared.db import Session, user_session
from shared.errors import NotFound
from shared.observability.context import bind_organization

# The reports sort 100k-row groups for distinct leads and medians: enough memory that they never spill
# to disk, for this transaction only (set with the membership check, so no extra round trip).
_MEMBER_WITH_MEMORY = (
    "select set_config('work_mem', '64MB', true),"
    " exists (select 1 from public.organizations o where o.id = %s) as member"
)


async def run_report(principal: Principal, report: ReportName, filters: ReportFilters) -> Report:
    """The report's totals and groups for conversations started in ``[from, to)``; 404 for non-members."""
    bind_organization(filters.organization_id)
    async with user_session(principal.claims) as db:
        await require_member(db, filters)
        rows = await db.all(report_sql(report, filters.group_by), _params(filters))
    totals_row = next(r for r in rows if r["key"] is None)
    groups = [ReportGroup(key=r["key"], metrics=_numbers(r)) for r in rows if r["key"] is not None]
    refreshed = totals_row["rollup_refreshed_at"]
    return Report(
        report=report, filters=filters, rollup_refreshed_at=refreshed, totals=_numbers(totals_row), groups=groups
    )


async def require_member(db: Session, filters: ReportFilters) -> None:
    """404 unless the caller can see the organization."""
    row = await db.one(_MEMBER_WITH_MEMORY, (filters.organization_id,))
    if row is None or not row["member"]:
        raise NotFound("organization not found")


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
        if name in ("key", "rollup_refreshed_at"):
            continue
        out[name] = float(value) if isinstance(value, Decimal) else value
    return out
