"""The agent's rules applied to what the model proposes (pure, no I/O)."""

from __future__ import annotations

import uuid
from typing import Any

from shared.turns.context import TurnContext
from shared.turns.effects import Call, plan

FIELDS = [
    {"name": "name", "type": "text", "required": True, "description": "Nome"},
    {"name": "email", "type": "email", "required": True, "description": "E-mail"},
    {"name": "budget", "type": "money", "required": True, "description": "Orçamento"},
]


def _ctx(
    lead: dict[str, Any] | None = None, config: dict[str, Any] | None = None, texts: tuple[str, ...] = ("oi",)
) -> TurnContext:
    history = [{"id": str(uuid.uuid4()), "role": "lead", "content": t} for t in texts]
    return TurnContext(
        status="ok",
        organization_id=uuid.uuid4(),
        conversation={"id": str(uuid.uuid4()), "channel": "web"},
        config={"persona": "Sofia", "goal": "book_meeting", "qualification_fields": FIELDS, **(config or {})},
        lead={"stage": "new", "score": 0, "qualification": {}, **(lead or {})},
        history=history,
        pending=[uuid.UUID(m["id"]) for m in history],
        alias="fast",
        reservation_id=None,
    )


def test_a_first_reply_engages_the_lead_and_stores_valid_values_only() -> None:
    # given a new lead / when the model captures a name, a bad e-mail and an unknown field
    outcome = plan(_ctx(), "Qual seu e-mail?", [Call("update_lead", {"name": "Ana", "email": "nope", "x": 1})])
    # then the lead is engaged and only the valid known field is stored
    assert outcome.lead["stage"] == "engaged"
    assert outcome.lead["qualification"] == {"name": "Ana"}
    assert outcome.lead["name"] == "Ana"
    assert [e["type"] for e in outcome.events] == ["lead.engaged", "lead.updated"]
    assert outcome.reply == "Qual seu e-mail?"


def test_all_required_fields_qualify_the_lead_and_allow_the_conversion() -> None:
    # given a lead with name and e-mail known
    ctx = _ctx(lead={"stage": "engaged", "name": "Ana", "email": "ana@example.com"})
    # when the model captures the budget and records a conversion
    calls = [Call("update_lead", {"budget": "450000"}), Call("record_conversion", {"type": "meeting"})]
    outcome = plan(ctx, "Agendado!", calls)
    # then the lead goes engaged → qualified → converted, with a conversion valued at the budget
    assert [e["type"] for e in outcome.events] == ["lead.updated", "lead.qualified", "conversion.created"]
    assert outcome.lead["stage"] == "converted"
    assert outcome.lead["score"] == 100
    assert outcome.conversion == {"type": "meeting", "value": 450000.0, "currency": "BRL"}


def test_a_conversion_missing_required_fields_is_deferred() -> None:
    # given a lead missing the budget / when the model records a conversion anyway
    ctx = _ctx(lead={"stage": "engaged", "name": "Ana", "email": "ana@example.com"})
    outcome = plan(ctx, "", [Call("record_conversion", {"type": "meeting"})])
    # then no conversion is written and the missing field is reported
    assert outcome.conversion is None
    assert outcome.events[-1] == {"type": "conversion.deferred", "data": {"missing": ["budget"]}}


def test_a_handoff_request_hands_the_conversation_to_a_human() -> None:
    # given an engaged lead / when the model asks for a handoff without text
    outcome = plan(_ctx(lead={"stage": "engaged"}), "", [Call("request_handoff", {"reason": "asked"})])
    # then the conversation goes to a human, the lead to handed_off, with a default reply in Portuguese
    assert outcome.conversation_status == "human"
    assert outcome.lead["stage"] == "handed_off"
    assert outcome.reply is not None
    assert "equipe" in outcome.reply


def test_handoff_keywords_in_the_lead_message_trigger_a_handoff() -> None:
    ctx = _ctx(lead={"stage": "engaged"}, config={"handoff": {"keywords": ["gerente"]}}, texts=("quero o GERENTE",))
    outcome = plan(ctx, "Claro", [])
    assert outcome.conversation_status == "human"
    assert outcome.events[-1]["data"] == {"reason": "keyword:gerente"}


def test_a_handoff_is_ignored_when_the_agent_disables_it() -> None:
    ctx = _ctx(lead={"stage": "engaged"}, config={"handoff": {"on_request": False}})
    outcome = plan(ctx, "Sigo aqui", [Call("request_handoff", {"reason": "asked"})])
    assert outcome.conversation_status is None


def test_ending_an_unqualified_conversation_loses_the_lead() -> None:
    outcome = plan(
        _ctx(lead={"stage": "engaged"}), "Até logo", [Call("end_conversation", {"reason": "not_interested"})]
    )
    assert outcome.conversation_status == "closed"
    assert outcome.lead["stage"] == "lost"


def test_the_model_cannot_move_a_lead_backwards() -> None:
    outcome = plan(_ctx(lead={"stage": "qualified", "score": 0}), "ok", [Call("set_stage", {"stage": "engaged"})])
    assert "stage" not in outcome.lead
