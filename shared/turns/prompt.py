"""The messages a turn sends to the model: the agent's system prompt, then the conversation."""

from __future__ import annotations

import json
from typing import Any

from shared.agents.config import QualificationField
from shared.turns.context import HistoryMessage, TurnContext

KNOWN_DATA_PREFIX = "Known lead data: "
FOLLOW_UP_PREFIX = "The lead has gone quiet. Write one short follow-up message: "
_ROLES = {"lead": "user", "assistant": "assistant", "human": "assistant"}


def system_prompt(ctx: TurnContext) -> str:
    """Persona, instructions, goal, language, the fields to capture and what is already known."""
    config = ctx.config
    fields = "\n".join(_field_line(f) for f in ctx.fields)
    parts = [
        f"You are {config.persona}.",
        config.instructions,
        f"Goal: {config.goal}",
        f"Language: {ctx.language}",
        "Capture these fields with the update_lead tool, one question at a time:",
        fields,
        "Call request_handoff when the lead asks for a person; record_conversion when the goal is reached.",
        KNOWN_DATA_PREFIX + json.dumps(ctx.known(), ensure_ascii=False, sort_keys=True, default=str),
    ]
    if ctx.conversation.summary:
        parts.append(f"Summary of the earlier conversation: {ctx.conversation.summary}")
    return "\n".join(p for p in parts if p)


def _field_line(field: QualificationField) -> str:
    required = ", required" if field.required else ""
    return f"- {field.name} ({field.type}{required}): {field.description}"


def messages(ctx: TurnContext, instruction: str | None = None) -> list[dict[str, Any]]:
    """OpenAI-format messages for the model: system prompt, the recent history, then a follow-up's instruction."""
    out: list[dict[str, Any]] = [{"role": "system", "content": system_prompt(ctx)}]
    for message in ctx.history:
        role = _ROLES.get(message.role)
        if role is None:
            continue
        out.append({"role": role, "content": _describe(message)})
    if instruction:
        out.append({"role": "system", "content": FOLLOW_UP_PREFIX + instruction})
    return out


def _describe(message: HistoryMessage) -> str:
    """Text for the model; media and other non-text messages are described, not dropped."""
    content = message.content
    kind = message.content_type
    if kind == "text":
        return content
    caption = f": {content}" if content else ""
    return f"[the lead sent {kind}{caption}]"
