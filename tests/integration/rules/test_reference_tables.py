"""The rules Python decides and SQL guards are one rule: the reference tables equal the Python modules."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest

from shared.conversations.statuses import MESSAGE_STATUS_RANK
from shared.crm.jobs import STEP_RANK
from shared.leads.stages import STAGES, allowed_moves, can_move

pytestmark = pytest.mark.integration


def _rows(url: str, sql: str) -> set[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return set(conn.execute(sql).fetchall())  # type: ignore[arg-type]


def test_the_stage_moves_table_is_can_move(database_url: str) -> None:
    assert _rows(database_url, "select from_stage, to_stage from app.lead_stage_moves") == set(allowed_moves())


def test_the_crm_step_ranks_table_is_step_rank(database_url: str) -> None:
    assert _rows(database_url, "select step, rank from app.crm_step_ranks") == set(STEP_RANK.items())


def test_the_message_status_ranks_table_is_message_status_rank(database_url: str) -> None:
    assert _rows(database_url, "select status, rank from app.message_status_ranks") == set(MESSAGE_STATUS_RANK.items())
    # and every status the database knows is ranked
    statuses = _rows(database_url, "select unnest(enum_range(null::public.message_status))::text")
    assert {s for (s,) in statuses} == set(MESSAGE_STATUS_RANK)


def _lead(url: str, stage: str) -> tuple[uuid.UUID, uuid.UUID]:
    org, lead = uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("insert into public.organizations (id, name, slug) values (%s, 'R', %s)", (org, f"r-{org.hex}"))
        conn.execute("insert into public.leads (id, organization_id, stage) values (%s, %s, %s)", (lead, org, stage))
    return org, lead


@pytest.mark.parametrize(("current", "target"), [(a, b) for a in STAGES for b in STAGES if a != b])
def test_the_database_moves_a_stage_exactly_when_can_move_allows_it(
    database_url: str, current: str, target: str
) -> None:
    # given a lead at ``current``
    _, lead = _lead(database_url, current)
    # when any writer sets ``target``
    with psycopg.connect(database_url, autocommit=True) as conn:
        try:
            conn.execute("update public.leads set stage = %s where id = %s", (target, lead))
            moved = True
        except psycopg.errors.CheckViolation:
            moved = False
    # then the database agrees with can_move
    assert moved == can_move(current, target)  # type: ignore[arg-type]


def test_a_crm_won_does_not_convert_a_lost_lead_but_records_the_sale(database_url: str) -> None:
    # given a lost lead, known to a CRM integration by e-mail
    org, lead = _lead(database_url, "lost")
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("update public.leads set email = 'perdido@example.com' where id = %s", (lead,))
        [integration] = (
            conn.execute(
                "insert into public.integrations (organization_id, kind, name)"
                " values (%s, 'hubspot', 'H') returning id",
                (org,),
            ).fetchone()
            or ()
        )
        # when the CRM reports the deal won
        [result] = (
            conn.execute(
                "select app.record_crm_outcome(%s, 'won', 'deal-1', 'perdido@example.com', 'ext-1', 100, 'BRL', now())",
                (integration,),
            ).fetchone()
            or ()
        )
        [stage] = conn.execute("select stage::text from public.leads where id = %s", (lead,)).fetchone() or ()
        conversions = conn.execute("select count(*) from public.conversions where lead_id = %s", (lead,)).fetchone()
    # then the sale is recorded, and the stage stays where can_move keeps it
    assert result["conversion_id"] is not None
    assert conversions == (1,)
    assert stage == "lost"
