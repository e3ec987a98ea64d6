"""Budget reservations at the SQL level: reserve, settle, release, under real concurrency."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from tests.integration.db.conftest import Tenant, seed_tenant

pytestmark = pytest.mark.integration


@pytest.fixture
def tenant(database_url: str) -> Tenant:
    with psycopg.connect(database_url, autocommit=True) as conn:
        return seed_tenant(conn, f"bud{uuid.uuid4().hex[:6]}")


def _set_budget(url: str, tenant: Tenant, limit: str, per_conversation: str | None = None) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "update public.budgets set monthly_limit_usd = %s, per_conversation_limit_usd = %s,"
            " spent_usd = 0, reserved_usd = 0 where organization_id = %s and agent_id is null",
            (Decimal(limit), Decimal(per_conversation) if per_conversation else None, tenant.org),
        )


def _reserve(url: str, tenant: Tenant, amount: str) -> uuid.UUID | None:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "select app.reserve_budget(%s, %s, %s, 'fast', %s)",
            (tenant.org, tenant.rows["agent"], tenant.rows["conversation"], Decimal(amount)),
        ).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def _settle(url: str, reservation: uuid.UUID, actual: str | None) -> bool:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "select app.settle_budget(%s, %s)", (reservation, Decimal(actual) if actual else None)
        ).fetchone()
    assert row is not None
    return bool(row[0])


def _budget(url: str, tenant: Tenant) -> dict[str, Any]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select spent_usd, reserved_usd from public.budgets where organization_id = %s and agent_id is null",
            (tenant.org,),
        ).fetchone()
    assert row is not None
    return {"spent": row[0], "reserved": row[1]}


def test_fifty_concurrent_turns_never_spend_beyond_the_budget(database_url: str, tenant: Tenant) -> None:
    # given a 1.00 USD budget and 50 turns that each reserve 0.30 and really cost 0.25
    _set_budget(database_url, tenant, "1.00")

    def turn(_: int) -> uuid.UUID | None:
        reservation = _reserve(database_url, tenant, "0.30")
        if reservation is not None:
            assert _settle(database_url, reservation, "0.25")
        return reservation

    # when they run at once on 50 connections
    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(turn, range(50)))
    granted = [r for r in results if r is not None]
    # then only the turns the budget covers ran, and spend stays within it
    budget = _budget(database_url, tenant)
    assert 3 <= len(granted) <= 4
    assert budget["spent"] == Decimal("0.25") * len(granted)
    assert budget["spent"] <= Decimal("1.00")
    assert budget["reserved"] == 0


def test_a_released_reservation_frees_the_budget(database_url: str, tenant: Tenant) -> None:
    # given a budget fully reserved by one turn
    _set_budget(database_url, tenant, "0.50")
    first = _reserve(database_url, tenant, "0.50")
    assert first is not None
    assert _reserve(database_url, tenant, "0.10") is None
    # when that turn fails and releases its reservation
    assert _settle(database_url, first, None)
    # then the budget is free again, and nothing was spent
    assert _budget(database_url, tenant) == {"spent": 0, "reserved": 0}
    assert _reserve(database_url, tenant, "0.10") is not None


def test_settling_twice_moves_money_once(database_url: str, tenant: Tenant) -> None:
    # given a settled reservation
    _set_budget(database_url, tenant, "5")
    reservation = _reserve(database_url, tenant, "1")
    assert reservation is not None
    assert _settle(database_url, reservation, "0.4")
    # when it is settled (or released) again, as a redelivered message would
    assert not _settle(database_url, reservation, "0.4")
    assert not _settle(database_url, reservation, None)
    # then it was counted once
    assert _budget(database_url, tenant) == {"spent": Decimal("0.4"), "reserved": 0}


def test_expired_reservations_are_swept(database_url: str, tenant: Tenant) -> None:
    # given a reservation whose worker died (expired)
    _set_budget(database_url, tenant, "1")
    reservation = _reserve(database_url, tenant, "0.7")
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "update public.budget_reservations set expires_at = now() - interval '1 minute' where id = %s",
            (reservation,),
        )
        # when the sweeper runs
        swept = conn.execute("select app.release_expired_reservations()").fetchone()
    # then it is released and the budget can be used again
    assert swept is not None
    assert swept[0] >= 1
    assert _budget(database_url, tenant)["reserved"] == 0


def test_the_per_conversation_cap_applies(database_url: str, tenant: Tenant) -> None:
    # given a large monthly budget but a 0.05 cap per conversation, and a conversation that cost 0.04
    _set_budget(database_url, tenant, "100", per_conversation="0.05")
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("update public.conversations set cost_usd = 0.04 where id = %s", (tenant.rows["conversation"],))
    # when a turn wants 0.02 more / then it is refused; 0.01 fits
    assert _reserve(database_url, tenant, "0.02") is None
    assert _reserve(database_url, tenant, "0.01") is not None


def test_an_agent_budget_limits_its_agent_within_the_organization_budget(database_url: str, tenant: Tenant) -> None:
    # given a big organization budget and a small budget for the agent
    _set_budget(database_url, tenant, "100")
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "insert into public.budgets (organization_id, agent_id, monthly_limit_usd) values (%s, %s, 0.1)",
            (tenant.org, tenant.rows["agent"]),
        )
    # when the agent's turns reserve / then the agent budget stops them, and both budgets carry the reservation
    assert _reserve(database_url, tenant, "0.08") is not None
    assert _reserve(database_url, tenant, "0.08") is None
    assert _budget(database_url, tenant)["reserved"] == Decimal("0.08")


def test_a_new_month_starts_from_zero(database_url: str, tenant: Tenant) -> None:
    # given a budget exhausted last month
    _set_budget(database_url, tenant, "1")
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "update public.budgets set spent_usd = 1, period_start = date_trunc('month', now() - interval '1 month')"
            " where organization_id = %s",
            (tenant.org,),
        )
    # when a turn reserves this month / then it fits
    assert _reserve(database_url, tenant, "0.5") is not None
    assert _budget(database_url, tenant)["spent"] == 0


def test_a_daily_budget_starts_from_zero_each_local_day_and_an_old_reservation_settles_nowhere(
    database_url: str, tenant: Tenant
) -> None:
    # given a daily budget of 1 USD exhausted yesterday, with a reservation from yesterday still open
    _set_budget(database_url, tenant, "1")
    old = _reserve(database_url, tenant, "0.4")
    assert old is not None
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "update public.budgets set period = 'day', spent_usd = 0.6, period_start = current_date - 1"
            " where organization_id = %s",
            (tenant.org,),
        )
        conn.execute(
            "update public.budget_reservations set created_at = now() - interval '1 day' where id = %s", (old,)
        )
    # when a turn reserves today / then it fits, from zero
    assert _reserve(database_url, tenant, "0.9") is not None
    assert _budget(database_url, tenant) == {"spent": 0, "reserved": Decimal("0.9")}
    # and when yesterday's reservation settles, today's counter does not move
    assert _settle(database_url, old, "0.4")
    assert _budget(database_url, tenant) == {"spent": 0, "reserved": Decimal("0.9")}
