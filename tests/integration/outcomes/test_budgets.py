"""Budgets and usage through the real handlers: spend equals the ledger, reservations show, admins write."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from tests.integration.outcomes.conftest import Member, scalar
from tests.support.api import LambdaApi

pytestmark = pytest.mark.integration


@pytest.fixture
def tenant(database_url: str) -> dict[str, Any]:
    """An organization (its default budget comes with it), an agent and a conversation."""
    org, agent, lead, conversation = (uuid.uuid4() for _ in range(4))
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("insert into public.organizations (id, name, slug) values (%s, 'Spend', %s)", (org, org.hex))
        conn.execute("insert into public.agents (id, organization_id, name) values (%s, %s, 'A')", (agent, org))
        conn.execute(
            "insert into public.agent_versions (organization_id, agent_id, version, config)"
            """ values (%s, %s, 1, '{"persona": "A", "on_budget_exhausted": "handoff"}')""",
            (org, agent),
        )
        conn.execute("insert into public.leads (id, organization_id) values (%s, %s)", (lead, org))
        conn.execute(
            "insert into public.conversations (id, organization_id, agent_id, agent_version, lead_id, channel)"
            " values (%s, %s, %s, 1, %s, 'web')",
            (conversation, org, agent, lead),
        )
    return {"org": org, "agent": agent, "conversation": conversation}


def _turn(conn: psycopg.Connection[Any], t: dict[str, Any], alias: str, model: str, cost: str) -> None:
    """What a worker's turn does to money: reserve, then settle at the real cost with its usage row."""
    row = conn.execute(
        "select app.reserve_budget(%s, %s, %s, %s, 0.05)", (t["org"], t["agent"], t["conversation"], alias)
    ).fetchone()
    assert row is not None
    assert row[0] is not None
    conn.execute("select app.settle_budget(%s, %s)", (row[0], Decimal(cost)))
    conn.execute(
        "insert into public.llm_usage (organization_id, agent_id, conversation_id, model, alias, tokens_in, tokens_out,"
        " cost_usd) values (%s, %s, %s, %s, %s, 100, 20, %s)",
        (t["org"], t["agent"], t["conversation"], model, alias, Decimal(cost)),
    )


def test_spend_equals_the_ledger_and_an_open_reservation_shows(
    api: LambdaApi, tenant: dict[str, Any], member_of: Callable[[Any, str], Member], database_url: str
) -> None:
    # given three settled turns and one reservation still open (a worker that has not settled)
    with psycopg.connect(database_url, autocommit=True) as conn:
        for alias, model, cost in (
            ("fast", "gpt-4o-mini", "0.001200"),
            ("smart", "gpt-4o", "0.010000"),
            ("fast", "gpt-4o-mini", "0.000800"),
        ):
            _turn(conn, tenant, alias, model, cost)
        conn.execute(
            "select app.reserve_budget(%s, %s, %s, 'fast', 0.05)",
            (tenant["org"], tenant["agent"], tenant["conversation"]),
        )
    # when a viewer reads the budgets
    response = api.call(
        "GET", f"/organizations/{tenant['org']}/budgets", token=member_of(tenant["org"], "viewer").token
    )
    # then the organization's budget reports the ledger's sum as spend, equal to its counter, and the reservation
    assert response.status == 200, response.body
    budget = response.json()["data"][0]
    ledger = scalar(
        database_url, "select sum(cost_usd) from public.llm_usage where organization_id = %s", (tenant["org"],)
    )
    assert budget["agent_id"] is None
    assert budget["spent_usd"] == float(ledger) == budget["counter_spent_usd"] == 0.012
    assert budget["reserved_usd"] == 0.05
    assert (budget["reservations"]["count"], budget["reservations"]["amount_usd"]) == (1, 0.05)
    assert budget["period_start"] < budget["period_end"]


def test_usage_by_model_and_alias_sums_the_ledger(
    api: LambdaApi, tenant: dict[str, Any], member_of: Callable[[Any, str], Member], database_url: str
) -> None:
    # given turns on two aliases
    with psycopg.connect(database_url, autocommit=True) as conn:
        for alias, model, cost in (
            ("fast", "gpt-4o-mini", "0.001000"),
            ("smart", "gpt-4o", "0.020000"),
            ("fast", "gpt-4o-mini", "0.002000"),
        ):
            _turn(conn, tenant, alias, model, cost)
    # when a viewer reads the usage
    response = api.call("GET", f"/organizations/{tenant['org']}/usage", token=member_of(tenant["org"], "viewer").token)
    # then each model and alias has its calls and cost, and the totals are the ledger's
    assert response.status == 200, response.body
    usage = response.json()
    rows = {(r["model"], r["alias"]): r for r in usage["data"]}
    assert (rows[("gpt-4o-mini", "fast")]["calls"], rows[("gpt-4o-mini", "fast")]["cost_usd"]) == (2, 0.003)
    assert (rows[("gpt-4o", "smart")]["calls"], rows[("gpt-4o", "smart")]["tokens_in"]) == (1, 100)
    assert (usage["totals"]["calls"], usage["totals"]["cost_usd"]) == (3, 0.023)
    assert usage["filters"]["organization_id"] == str(tenant["org"])


def test_admins_set_budgets_and_others_may_not(
    api: LambdaApi, tenant: dict[str, Any], member_of: Callable[[Any, str], Member], database_url: str
) -> None:
    # given an admin, an editor, and an agent-level budget to set
    admin, editor = member_of(tenant["org"], "admin"), member_of(tenant["org"], "editor")
    body = {
        "agent_id": str(tenant["agent"]),
        "limit_usd": "5",
        "period": "week",
        "alert_thresholds": ["0.8", "0.5", "1", "0.5"],
    }
    path = f"/organizations/{tenant['org']}/budgets"
    # when each sets it
    denied = api.call("PUT", path, token=editor.token, body=body)
    response = api.call("PUT", path, token=admin.token, body=body)
    # then the editor is refused and the admin's budget is stored, audited and listed
    assert denied.status == 403
    assert response.status == 200, response.body
    budget = response.json()
    assert (budget["agent_id"], budget["limit_usd"], budget["period"]) == (str(tenant["agent"]), 5.0, "week")
    assert budget["alert_thresholds"] == [0.5, 0.8, 1.0]
    # and the agent budget shows the agent's own exhaustion policy (its config; not stored on the budget)
    assert budget["on_exhausted"]["on_budget_exhausted"] == "handoff"
    audits = scalar(database_url, "select count(*) from public.budget_changes where budget_id = %s", (budget["id"],))
    assert audits == 1
    listed = api.call("GET", path, token=editor.token).json()["data"]
    assert [b["agent_id"] for b in listed] == [None, str(tenant["agent"])]


def test_another_tenant_sees_no_budget_and_bad_input_names_the_field(
    api: LambdaApi, tenant: dict[str, Any], member_of: Callable[[Any, str], Member], database_url: str
) -> None:
    # given the owner of another organization, and an admin of this one
    other = uuid.uuid4()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("insert into public.organizations (id, name, slug) values (%s, 'Other', %s)", (other, other.hex))
    outsider, admin = member_of(other, "owner"), member_of(tenant["org"], "admin")
    path = f"/organizations/{tenant['org']}/budgets"
    # when the outsider reads or writes / then this organization does not exist for them
    assert api.call("GET", path, token=outsider.token).status == 404
    assert api.call("PUT", path, token=outsider.token, body={"limit_usd": "1"}).status == 404
    assert api.call("GET", f"/organizations/{tenant['org']}/usage", token=outsider.token).status == 404
    # and an agent budget with a per-conversation cap, or a negative limit, is a 422 naming the field
    capped = {"agent_id": str(tenant["agent"]), "limit_usd": "1", "per_conversation_limit_usd": "0.1"}
    for body, field in (
        (capped, "body.per_conversation_limit_usd"),
        ({"limit_usd": "-1"}, "body.limit_usd"),
        ({"limit_usd": "1", "period": "year"}, "body.period"),
        ({"limit_usd": "1", "alert_thresholds": []}, "body.alert_thresholds"),
        ({"limit_usd": "1", "alert_thresholds": ["1.5"]}, "body.alert_thresholds.0"),
    ):
        response = api.call("PUT", path, token=admin.token, body=body)
        assert response.status == 422, response.body
        assert field in [e["field"] for e in response.json()["errors"]]


def _zone(database_url: str, org: uuid.UUID, zone: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "update public.organizations set settings = jsonb_build_object('timezone', %s::text) where id = %s",
            (zone, org),
        )


def test_a_weekly_budget_reads_its_local_calendar_week(
    api: LambdaApi, tenant: dict[str, Any], member_of: Callable[[Any, str], Member], database_url: str
) -> None:
    # given an organization in São Paulo and an admin who sets a weekly organization budget
    _zone(database_url, tenant["org"], "America/Sao_Paulo")
    admin = member_of(tenant["org"], "admin")
    path = f"/organizations/{tenant['org']}/budgets"
    body = {"limit_usd": "10", "period": "week", "alert_thresholds": ["0.5", "0.8", "1.0"]}
    assert api.call("PUT", path, token=admin.token, body=body).status == 200
    # when a viewer reads the budgets
    listed = api.call("GET", path, token=member_of(tenant["org"], "viewer").token).json()
    budget = listed["data"][0]
    # then the period is this ISO week (Monday to Monday) in the organization's zone, bounds included
    expected = scalar(
        database_url,
        "select jsonb_build_object('start', d::text, 'end', (d + 7)::text,"
        " 'starts_at', extract(epoch from d::timestamp at time zone 'America/Sao_Paulo'))"
        " from (select date_trunc('week', now() at time zone 'America/Sao_Paulo')::date as d) w",
        None,
    )
    assert (budget["period"], budget["time_zone"]) == ("week", "America/Sao_Paulo")
    assert (budget["period_start"], budget["period_end"]) == (expected["start"], expected["end"])
    assert datetime.fromisoformat(budget["period_starts_at"]).timestamp() == float(expected["starts_at"])
    # and every agent's exhaustion policy comes from its config, the organization budget carrying none
    assert budget["on_exhausted"] is None
    assert listed["exhaustion_policies"] == [
        {
            "agent_id": str(tenant["agent"]),
            "on_budget_exhausted": "handoff",
            "fallback_model": None,
            "effective": "handoff",
        }
    ]


def test_a_read_at_the_start_of_a_period_shows_the_new_period(
    api: LambdaApi, tenant: dict[str, Any], member_of: Callable[[Any, str], Member], database_url: str
) -> None:
    # given a daily budget whose counter still holds yesterday's spend and reservation (no turn or cron yet today)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("select public.set_budget(%s, null, 10, null, 'day')", (tenant["org"],))
        conn.execute(
            "update public.budgets set period_start = current_date - 1, spent_usd = 4, reserved_usd = 1"
            " where organization_id = %s and agent_id is null",
            (tenant["org"],),
        )
    # when a viewer reads it
    budget = api.call(
        "GET", f"/organizations/{tenant['org']}/budgets", token=member_of(tenant["org"], "viewer").token
    ).json()["data"][0]
    # then it is today's period, from zero
    today = scalar(database_url, "select (now() at time zone 'UTC')::date::text", None)
    assert (budget["period_start"], budget["counter_spent_usd"], budget["reserved_usd"]) == (today, 0, 0)
    assert budget["alerts_reached"] == []


def test_a_new_period_kind_recounts_the_current_period_from_the_ledger(
    api: LambdaApi, tenant: dict[str, Any], member_of: Callable[[Any, str], Member], database_url: str
) -> None:
    # given a monthly budget with two turns settled today and one call from yesterday in the ledger
    with psycopg.connect(database_url, autocommit=True) as conn:
        _turn(conn, tenant, "fast", "gpt-4o-mini", "0.010000")
        _turn(conn, tenant, "fast", "gpt-4o-mini", "0.020000")
        conn.execute(
            "insert into public.llm_usage (organization_id, agent_id, conversation_id, model, alias, tokens_in,"
            " tokens_out, cost_usd, created_at)"
            " values (%s, %s, %s, 'gpt-4o', 'smart', 1, 1, 0.5, now() - interval '1 day')",
            (tenant["org"], tenant["agent"], tenant["conversation"]),
        )
        conn.execute(  # the month's counter holds yesterday's call too, as its settle would have left it
            "update public.budgets set spent_usd = spent_usd + 0.5 where organization_id = %s and agent_id is null",
            (tenant["org"],),
        )
    # when an admin makes it a daily budget with thresholds at 50% and 100%
    admin = member_of(tenant["org"], "admin")
    body = {"limit_usd": "0.05", "period": "day", "alert_thresholds": ["0.5", "1"]}
    budget = api.call("PUT", f"/organizations/{tenant['org']}/budgets", token=admin.token, body=body).json()
    # then today's counter is today's ledger (yesterday's call left out), and the 50% threshold shows reached
    assert budget["counter_spent_usd"] == budget["spent_usd"] == 0.03
    assert budget["alerts_reached"] == [0.5]
    assert budget["remaining_usd"] == 0.02
