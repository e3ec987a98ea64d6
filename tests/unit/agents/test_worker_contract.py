"""A stored config drives the turn worker: its keys are the ones shared.turns reads."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from shared.agents.config import CONFIG_KEYS
from shared.agents.presets import apply_preset
from shared.agents.rules import build_config
from shared.turns import prompt
from shared.turns.context import TurnContext
from shared.turns.effects import Call, plan

MIGRATIONS = Path(__file__).resolve().parents[3] / "infra" / "supabase" / "migrations"


def _ctx(config: dict[str, Any], text: str = "oi") -> TurnContext:
    message = {"id": str(uuid.uuid4()), "role": "lead", "content": text}
    return TurnContext(
        status="ok",
        organization_id=uuid.uuid4(),
        conversation={"id": str(uuid.uuid4()), "channel": "web"},
        config=config,
        lead={"stage": "new", "score": 0, "qualification": {}},
        history=[message],
        pending=[uuid.UUID(message["id"])],
        alias="fast",
        reservation_id=None,
    )


def _bant(**values: Any) -> dict[str, Any]:
    return build_config(apply_preset({"persona": "Sofia", **values}, "bant", [], values.get("scoring")))


def test_the_bant_rubric_and_threshold_qualify_a_lead() -> None:
    # given a BANT agent (25 points per criterion, bar at 70)
    ctx = _ctx(_bant())
    # when the model captures contacts and three of the four criteria
    captured = {"name": "Ana", "email": "ana@example.com", "budget": "500000", "authority": True, "need": "casa"}
    outcome = plan(ctx, "Obrigada!", [Call("update_lead", captured)])
    # then the timeline is missing, so the lead is not yet qualified, though it scores 75
    assert outcome.lead["score"] == 75
    assert outcome.lead["stage"] == "engaged"
    # and with the timeline too it qualifies
    outcome = plan(ctx, "Obrigada!", [Call("update_lead", {**captured, "timeline": "3 meses"})])
    assert outcome.lead["stage"] == "qualified"


def test_handoff_rules_are_read_from_the_config() -> None:
    # given an agent that hands off on a keyword
    ctx = _ctx(_bant(handoff={"keywords": ["atendente"], "on_request": False}), text="Quero um ATENDENTE")
    # when the lead uses it / then the conversation goes to a human
    outcome = plan(ctx, "", [])
    assert outcome.conversation_status == "human"


def test_the_prompt_uses_persona_goal_language_and_fields() -> None:
    text = prompt.system_prompt(_ctx(_bant(goal="book_meeting", language="en")))
    assert "You are Sofia." in text
    assert "Goal: book_meeting" in text
    assert "Language: en" in text
    assert "- budget (money, required)" in text


def test_the_budget_keys_are_the_ones_begin_turn_reads() -> None:
    # given app.begin_turn's SQL / then the config keys it reads exist in the model
    sql = "".join(p.read_text(encoding="utf-8") for p in sorted(MIGRATIONS.glob("*.sql")))
    for key in ("model", "fallback_model", "on_budget_exhausted"):
        assert f"v_config ->> '{key}'" in sql
        assert key in CONFIG_KEYS
