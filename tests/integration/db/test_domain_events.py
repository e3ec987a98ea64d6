"""Domain events reach the outbox in the same transaction as the change, whichever path made it."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest

from tests.integration.db.conftest import Tenant, seed_tenant

pytestmark = pytest.mark.integration


@pytest.fixture
def tenant(database_url: str) -> Tenant:
    with psycopg.connect(database_url, autocommit=True) as conn:
        return seed_tenant(conn, f"ev{uuid.uuid4().hex[:6]}")


def _outbox(conn: psycopg.Connection[Any], tenant: Tenant, event_type: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        "select payload from public.event_outbox where organization_id = %s and type = %s order by created_at",
        (tenant.org, event_type),
    ).fetchall()
    return [row[0] for row in rows]


def test_a_qualifying_lead_event_is_announced_with_its_stage_change(
    db: psycopg.Connection[Any], tenant: Tenant
) -> None:
    # when the worker records that a lead qualified
    db.execute(
        "insert into public.lead_events (organization_id, lead_id, conversation_id, type, from_stage, to_stage, data,"
        " actor) values (%s, %s, %s, 'lead.qualified', 'engaged', 'qualified', '{\"score\": 80}', 'agent')",
        (tenant.org, tenant.rows["lead"], tenant.rows["conversation"]),
    )
    # then lead.qualified is in the outbox, in the same transaction
    payload = _outbox(db, tenant, "lead.qualified")[-1]
    assert payload["lead_id"] == str(tenant.rows["lead"])
    assert payload["conversation_id"] == str(tenant.rows["conversation"])
    assert (payload["to_stage"], payload["score"]) == ("qualified", 80)


def test_lead_events_outside_the_catalog_are_not_announced(db: psycopg.Connection[Any], tenant: Tenant) -> None:
    # when an internal lead event is written / then nothing reaches the outbox for it
    before = db.execute("select count(*) from public.event_outbox where organization_id = %s", (tenant.org,))
    count = before.fetchone()
    db.execute(
        "insert into public.lead_events (organization_id, lead_id, type) values (%s, %s, 'conversion.deferred')",
        (tenant.org, tenant.rows["lead"]),
    )
    after = db.execute("select count(*) from public.event_outbox where organization_id = %s", (tenant.org,))
    assert after.fetchone() == count


def test_every_conversion_is_announced_with_its_source(db: psycopg.Connection[Any], tenant: Tenant) -> None:
    # when a CRM webhook records a won deal as a conversion
    db.execute(
        "insert into public.conversions (organization_id, lead_id, conversation_id, agent_id, agent_version, type,"
        " value, currency, source) values (%s, %s, %s, %s, 1, 'purchase', 1500, 'BRL', 'crm')",
        (tenant.org, tenant.rows["lead"], tenant.rows["conversation"], tenant.rows["agent"]),
    )
    # then conversion.created carries the value and where it came from
    payload = _outbox(db, tenant, "conversion.created")[-1]
    assert (payload["type"], payload["value"], payload["source"]) == ("purchase", 1500, "crm")


def test_spoken_messages_are_announced_and_system_notes_are_not(db: psycopg.Connection[Any], tenant: Tenant) -> None:
    # when a lead message and a system note are stored
    for role in ("lead", "system"):
        db.execute(
            "insert into public.messages (organization_id, conversation_id, role, content) values (%s, %s, %s, 'x')",
            (tenant.org, tenant.rows["conversation"], role),
        )
    # then only the lead's message is announced
    roles = [p["role"] for p in _outbox(db, tenant, "message.created")]
    assert roles[-1] == "lead"
    assert "system" not in roles
