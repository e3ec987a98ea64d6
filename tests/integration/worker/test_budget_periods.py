"""The budget-periods cron: every period kind rolls over at local midnight; each threshold alerts once a period."""

from __future__ import annotations

import importlib

import psycopg
import pytest

from tests.integration.worker.conftest import Tenant
from tests.support.lambda_events import FakeLambdaContext, load_event

pytestmark = pytest.mark.integration


def _cron() -> dict[str, int]:
    handler = importlib.import_module("functions.crons.budget_periods.handler").handler
    return dict(handler(load_event("eventbridge_scheduled.json"), FakeLambdaContext("budgetPeriods")))


def _alerts(tenant: Tenant) -> list[dict[str, object]]:
    return tenant.query(
        "select payload from public.event_outbox where organization_id = %s and type = 'budget.threshold_reached'",
        tenant.org,
    )


def test_last_months_spend_is_rolled_over_and_an_alert_is_sent_once(tenant: Tenant) -> None:
    # given an organization budget of 100 USD with last month's 95 spent
    with psycopg.connect(tenant.url, autocommit=True) as conn:
        conn.execute(
            "update public.budgets set spent_usd = 95, period_start = date_trunc('month', now())::date - 1"
            " where organization_id = %s and agent_id is null",
            (tenant.org,),
        )
    # when the cron runs / then the budget shows the new month, from zero, and no alert goes out for old spend
    _cron()
    [budget] = tenant.query(
        "select spent_usd, period_start = date_trunc('month', now())::date as current from public.budgets"
        " where organization_id = %s and agent_id is null",
        tenant.org,
    )
    assert (budget["spent_usd"], budget["current"]) == (0, True)
    assert _alerts(tenant) == []
    # given this month's spend crosses the 80% threshold / when the cron runs twice
    with psycopg.connect(tenant.url, autocommit=True) as conn:
        conn.execute(
            "update public.budgets set spent_usd = 81 where organization_id = %s and agent_id is null", (tenant.org,)
        )
    _cron()
    _cron()
    # then one budget.threshold_reached was sent, with the spend and the threshold
    [alert] = _alerts(tenant)
    payload = alert["payload"]
    assert isinstance(payload, dict)
    assert (payload["spent_usd"], payload["threshold"]) == (81, 0.8)


def _spend(tenant: Tenant, usd: int) -> None:
    with psycopg.connect(tenant.url, autocommit=True) as conn:
        conn.execute(
            "update public.budgets set spent_usd = %s where organization_id = %s and agent_id is null",
            (usd, tenant.org),
        )


def test_each_threshold_of_the_list_is_sent_once_per_period(tenant: Tenant) -> None:
    # given an organization budget of 100 USD a day with thresholds at 50%, 80% and 100%
    with psycopg.connect(tenant.url, autocommit=True) as conn:
        conn.execute("select public.set_budget(%s, null, 100, null, 'day', '{1.0, 0.5, 0.8}')", (tenant.org,))
    # when 60 is spent and the cron runs twice
    _spend(tenant, 60)
    _cron()
    _cron()
    # then the 50% alert went out once
    assert [a["payload"]["threshold"] for a in _alerts(tenant)] == [0.5]  # type: ignore[index]
    # when the spend reaches the limit / then the 80% and 100% alerts follow, each once
    _spend(tenant, 100)
    _cron()
    _cron()
    thresholds = sorted(a["payload"]["threshold"] for a in _alerts(tenant))  # type: ignore[index]
    assert thresholds == [0.5, 0.8, 1.0]
    payload = _alerts(tenant)[0]["payload"]
    assert isinstance(payload, dict)
    assert (payload["period"], payload["limit_usd"]) == ("day", 100)
    # given the next day starts (the rollover runs a day from now) and 55 is spent in it
    with psycopg.connect(tenant.url, autocommit=True) as conn:
        conn.execute("select app.roll_budget_periods(now() + interval '1 day')")
    _spend(tenant, 55)
    # when the cron runs / then the new period's 50% alert goes out again
    _cron()
    assert sorted(a["payload"]["threshold"] for a in _alerts(tenant)) == [0.5, 0.5, 0.8, 1.0]  # type: ignore[index]


# São Paulo is UTC-3 (no daylight saving since 2019): 2026-12-01 02:30 UTC is still 30 November there.
@pytest.mark.parametrize(
    ("period", "held_start", "before", "after", "rolled_start"),
    [
        ("day", "2026-11-30", "2026-12-01T02:59:00Z", "2026-12-01T03:00:00Z", "2026-12-01"),
        ("week", "2026-11-30", "2026-12-07T02:59:00Z", "2026-12-07T03:00:00Z", "2026-12-07"),
        ("month", "2026-11-01", "2026-12-01T02:59:00Z", "2026-12-01T03:00:00Z", "2026-12-01"),
    ],
)
def test_each_period_kind_rolls_over_at_local_midnight(
    tenant: Tenant, period: str, held_start: str, before: str, after: str, rolled_start: str
) -> None:
    # given an organization in São Paulo whose budget counts per period, with spend in the current one
    with psycopg.connect(tenant.url, autocommit=True) as conn:
        conn.execute(
            'update public.organizations set settings = settings || \'{"timezone": "America/Sao_Paulo"}\''
            " where id = %s",
            (tenant.org,),
        )
        conn.execute(
            "update public.budgets set period = %s, period_start = %s, spent_usd = 7, reserved_usd = 1"
            " where organization_id = %s and agent_id is null",
            (period, held_start, tenant.org),
        )
        # when the rollover runs a minute before local midnight / then nothing moves
        conn.execute("select app.roll_budget_periods(%s)", (before,))
        [held] = tenant.query(
            "select period_start::text, spent_usd from public.budgets where organization_id = %s and agent_id is null",
            tenant.org,
        )
        assert (held["period_start"], held["spent_usd"]) == (held_start, 7)
        # when it runs at local midnight / then the new period starts from zero on its first local date
        conn.execute("select app.roll_budget_periods(%s)", (after,))
    [rolled] = tenant.query(
        "select period_start::text, spent_usd, reserved_usd from public.budgets"
        " where organization_id = %s and agent_id is null",
        tenant.org,
    )
    assert (rolled["period_start"], rolled["spent_usd"], rolled["reserved_usd"]) == (rolled_start, 0, 0)


def test_an_unknown_time_zone_counts_in_utc(tenant: Tenant) -> None:
    # given an organization whose time zone setting Postgres does not know
    with psycopg.connect(tenant.url, autocommit=True) as conn:
        conn.execute(
            'update public.organizations set settings = \'{"timezone": "Mars/Olympus"}\' where id = %s', (tenant.org,)
        )
        # when its zone is read / then it is UTC, and its budget still rolls over by the UTC day
        zone = conn.execute("select app.organization_time_zone(%s)", (tenant.org,)).fetchone()
        conn.execute(
            "update public.budgets set period = 'day', period_start = '2026-11-29', spent_usd = 3"
            " where organization_id = %s and agent_id is null",
            (tenant.org,),
        )
        conn.execute("select app.roll_budget_periods('2026-11-30T00:00:00Z')")
    assert zone == ("UTC",)
    [budget] = tenant.query(
        "select period_start::text, spent_usd from public.budgets where organization_id = %s and agent_id is null",
        tenant.org,
    )
    assert (budget["period_start"], budget["spent_usd"]) == ("2026-11-30", 0)
