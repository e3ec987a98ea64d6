"""The retention cron: finished rows past their period go, everything else stays."""

from __future__ import annotations

import importlib
from typing import Any

import psycopg
import pytest

from tests.integration.worker.conftest import Tenant
from tests.support.lambda_events import FakeLambdaContext, load_event

pytestmark = pytest.mark.integration


def test_the_retention_cron_purges_only_what_is_past_its_period(tenant: Tenant) -> None:
    # given old and fresh outbox events, delivery logs and status events
    message = tenant.lead_says(tenant.conversation(), "oi")
    with psycopg.connect(tenant.url, autocommit=True) as conn:

        def one(sql: str, *params: Any) -> Any:
            row = conn.execute(sql, params).fetchone()
            assert row is not None
            return row[0]

        endpoint = one(
            "insert into public.webhook_endpoints (organization_id, url, events)"
            " values (%s, 'https://example.com/h', '{lead.qualified}') returning id",
            tenant.org,
        )

        def event(age: str, delivery: str | None) -> Any:
            event_id = one(
                "insert into public.event_outbox (organization_id, type, payload, dispatched_at)"
                " values (%s, 'lead.qualified', '{}', now() - %s::interval) returning id",
                tenant.org,
                age,
            )
            if delivery:
                conn.execute(
                    "insert into public.webhook_deliveries (organization_id, endpoint_id, event_id, event_type,"
                    " attempt, status, created_at, completed_at)"
                    " values (%s, %s, %s, 'lead.qualified', 1, %s, now() - %s::interval, now() - %s::interval)",
                    (tenant.org, endpoint, event_id, delivery, age, age),
                )
            return event_id

        old = event("40 days", "succeeded")
        old_pending = event("40 days", "pending")  # still being delivered: kept
        fresh = event("1 day", "succeeded")
        for age in ("100 days", "1 day"):
            conn.execute(
                "insert into public.message_status_events"
                " (organization_id, message_id, channel_message_id, status, occurred_at, created_at)"
                " values (%s, %s, 'wamid.' || md5(random()::text), 'delivered', now(), now() - %s::interval)",
                (tenant.org, message, age),
            )
    # when the cron runs on its schedule
    handler = importlib.import_module("functions.crons.purge_retention.handler").handler
    purged = handler(load_event("eventbridge_scheduled.json"), FakeLambdaContext("purgeRetention"))
    # then the old finished rows are gone, the rest stays
    assert purged["event_outbox"] >= 1
    assert purged["webhook_deliveries"] >= 1
    assert purged["message_status_events"] >= 1
    left = {r["id"] for r in tenant.query("select id from public.event_outbox where organization_id = %s", tenant.org)}
    assert old not in left
    assert {old_pending, fresh} <= left
    ages = tenant.query(
        "select (now() - created_at) < interval '2 days' as fresh from public.message_status_events"
        " where organization_id = %s",
        tenant.org,
    )
    assert ages == [{"fresh": True}]
