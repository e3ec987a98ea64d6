"""Budget periods: roll spend over at each budget's period boundary (day, week or month in the organization's
time zone), then raise ``budget.threshold_reached`` once per period and threshold. Crons only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from shared.db import service_session
from shared.observability import metrics


@dataclass(frozen=True)
class PeriodResult:
    """Budgets rolled over to the new period, and alerts raised."""

    rolled: int
    alerts: int


async def run(now: datetime | None = None) -> PeriodResult:
    """Roll over first, so an alert is judged on the current period's spend; one transaction."""
    async with service_session() as db:
        rolled = await db.one("select app.roll_budget_periods(%s) as n", (now or datetime.now(UTC),))
        raised = await db.one("select app.raise_budget_alerts() as n")
    result = PeriodResult(int((rolled or {}).get("n") or 0), int((raised or {}).get("n") or 0))
    metrics.add_metric(name="BudgetsRolledOver", unit="Count", value=result.rolled)
    metrics.add_metric(name="BudgetAlerts", unit="Count", value=result.alerts)
    return result
