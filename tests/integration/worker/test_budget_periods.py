"""The budget-periods cron: a new month starts from zero; an alert goes out once per period and threshold."""

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
