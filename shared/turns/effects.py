"""Turn a model reply and its tool calls into one atomic outcome for ``app.finish_turn``.

Pure: no I/O. The agent's rules (required fields, score threshold, handoff rules) are
enforced here, so a model cannot convert a lead that is missing required fields or
move a lead backwards through its stages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.leads.fields import CONTACT_FIELDS, normalise_value
from shared.leads.scoring import missing_required, score
from shared.leads.stages import Stage, can_move, is_stage
from shared.turns.context import TurnContext

CONVERSION_TYPES = {"qualify": "qualified_lead", "book_meeting": "meeting", "purchase": "purchase"}
_HANDOFF_TEXT = {
    "pt": "Vou te passar para uma pessoa da nossa equipe, que continua a conversa por aqui.",
    "en": "I'm handing you over to a person on our team, who will continue here.",
    "es": "Te paso con una persona de nuestro equipo, que seguirá la conversación aquí.",
}


@dataclass(frozen=True)
class Call:
    """One tool call the model made."""

    name: str
    arguments: dict[str, Any]


@dataclass
class Outcome:
    """Everything one turn changes, applied in one transaction."""

    reply: str | None
    lead: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    conversion: dict[str, Any] | None = None
    conversation_status: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "lead": self.lead or None,
            "events": self.events,
            "conversion": self.conversion,
            "conversation_status": self.conversation_status,
        }


def plan(ctx: TurnContext, content: str, calls: Sequence[Call]) -> Outcome:
    """Apply the agent's rules to what the model proposed."""
    fields: dict[str, str] = {f.name: f.type for f in ctx.fields}
    known = ctx.known()
    updates = _captured(calls, fields, known)
    known.update(updates)
    stage: Stage = ctx.lead.stage
    outcome = Outcome(reply=content.strip() or None)
    state = _Stages(stage, outcome.events)

    state.move("engaged", "lead.engaged")
    if updates:
        outcome.events.append({"type": "lead.updated", "data": {"fields": sorted(updates)}})
    rules = ctx.config.scoring
    required = [f.name for f in ctx.fields if f.required]
    new_score = score(known, required, rules.rubric)
    missing = missing_required(known, required)
    threshold = rules.qualified_threshold
    requested = _requested_stage(calls)
    if not missing and (new_score >= threshold or requested == "qualified"):
        state.move("qualified", "lead.qualified", {"score": new_score})
    if requested in ("engaged", "lost"):
        state.move(requested, f"lead.{requested}")

    conversion = _first(calls, "record_conversion")
    if conversion is not None:
        if missing:
            outcome.events.append({"type": "conversion.deferred", "data": {"missing": missing}})
        elif state.move("converted", "conversion.created"):
            outcome.conversion = _conversion(ctx, conversion.arguments, known)

    handoff_reason = _handoff_reason(ctx, calls, new_score)
    if handoff_reason and state.stage != "converted":
        state.move("handed_off", "handoff.requested", {"reason": handoff_reason})
        outcome.conversation_status = "human"
        outcome.reply = outcome.reply or handoff_text(ctx.language)
    ended = _first(calls, "end_conversation")
    if ended is not None and outcome.conversation_status is None:
        outcome.conversation_status = "closed"
        outcome.events.append({"type": "conversation.closed", "data": {"reason": ended.arguments.get("reason")}})
        if state.stage not in ("converted", "qualified", "handed_off"):
            state.move("lost", "lead.lost", {"reason": ended.arguments.get("reason")})

    outcome.lead = _lead_patch(ctx, updates, new_score, state.stage)
    return outcome


class _Stages:
    def __init__(self, stage: Stage, events: list[dict[str, Any]]) -> None:
        self.stage = stage
        self._events = events

    def move(self, target: Stage, event: str, data: dict[str, Any] | None = None) -> bool:
        if not can_move(self.stage, target):
            return False
        self._events.append({"type": event, "from_stage": self.stage, "to_stage": target, "data": data or {}})
        self.stage = target
        return True


def handoff_text(language: str) -> str:
    """What the bot says when it hands the lead to a person, in the agent's language."""
    return _HANDOFF_TEXT.get(language[:2], _HANDOFF_TEXT["en"])


def _captured(calls: Sequence[Call], fields: dict[str, str], known: dict[str, Any]) -> dict[str, Any]:
    """Values from ``update_lead`` calls that are valid for their field and new."""
    updates: dict[str, Any] = {}
    for call in calls:
        if call.name != "update_lead":
            continue
        values = call.arguments.get("fields", call.arguments)
        if not isinstance(values, dict):
            continue
        for name, raw in values.items():
            kind = fields.get(name) or (name if name in CONTACT_FIELDS else None)
            if kind is None:
                continue
            value = normalise_value(kind, raw)
            if value is not None and known.get(name) != value:
                updates[name] = value
    return updates


def _requested_stage(calls: Sequence[Call]) -> Stage | None:
    call = _first(calls, "set_stage")
    stage = call.arguments.get("stage") if call else None
    return stage if is_stage(stage) else None


def _first(calls: Sequence[Call], name: str) -> Call | None:
    return next((c for c in calls if c.name == name), None)


def _handoff_reason(ctx: TurnContext, calls: Sequence[Call], new_score: int) -> str | None:
    rules = ctx.config.handoff
    call = _first(calls, "request_handoff")
    if call is not None and rules.on_request:
        return str(call.arguments.get("reason") or "requested")
    text = " ".join(ctx.pending_texts()).lower()
    for keyword in rules.keywords:
        if keyword.lower() in text:
            return f"keyword:{keyword}"
    if rules.min_score is not None and new_score >= rules.min_score:
        return "score"
    bot_turns = sum(1 for m in ctx.history if m.role == "assistant")
    if rules.max_bot_turns is not None and bot_turns + 1 >= rules.max_bot_turns:
        return "max_bot_turns"
    return None


def _conversion(ctx: TurnContext, args: dict[str, Any], known: dict[str, Any]) -> dict[str, Any]:
    goal = ctx.config.goal
    value = normalise_value("money", args.get("value"))
    if value is None:
        value = normalise_value("money", known.get("budget")) or 0
    currency = str(args.get("currency") or "BRL").upper()
    return {
        "type": str(args.get("type") or CONVERSION_TYPES.get(goal, goal))[:64],
        "value": value,
        "currency": currency if len(currency) == 3 and currency.isalpha() else "BRL",
    }


def _lead_patch(ctx: TurnContext, updates: dict[str, Any], new_score: int, stage: Stage) -> dict[str, Any]:
    patch: dict[str, Any] = {name: updates[name] for name in CONTACT_FIELDS if name in updates}
    if updates:
        patch["qualification"] = updates
    if new_score != ctx.lead.score:
        patch["score"] = new_score
    if stage != ctx.lead.stage:
        patch["stage"] = stage
    return patch
