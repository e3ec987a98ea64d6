"""OpenAI-format tool schemas an agent's model may call; ``shared.turns.effects`` applies the calls."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.agents.config import QualificationField
from shared.leads.fields import CONTACT_FIELDS
from shared.leads.stages import STAGES

# Kept to plain JSON Schema (no "format"): some providers reject keywords they do not know.
_TYPES: dict[str, tuple[str, str]] = {
    "text": ("string", ""),
    "email": ("string", "an e-mail address"),
    "phone": ("string", "a phone number, with area code"),
    "money": ("number", "an amount of money as a plain number, e.g. 500000"),
    "number": ("number", ""),
    "boolean": ("boolean", ""),
    "date": ("string", "an ISO 8601 date, YYYY-MM-DD"),
}
_CONTACT_DESCRIPTIONS = {"name": "The lead's name", "email": "The lead's e-mail", "phone": "The lead's phone"}


def build_tools(fields: Sequence[QualificationField]) -> list[dict[str, Any]]:
    """The five tools, with ``update_lead`` taking one property per qualification field."""
    return [
        _tool("update_lead", _update_lead_description(fields), _field_properties(fields), []),
        _tool(
            "set_stage",
            "Move the lead to a stage of the funnel.",
            {"stage": {"type": "string", "enum": list(STAGES)}},
            ["stage"],
        ),
        _tool(
            "request_handoff",
            "Hand the conversation to a person on the team (the lead asked for one, or you cannot help).",
            {"reason": {"type": "string", "description": "Why a person should take over."}},
            ["reason"],
        ),
        _tool(
            "record_conversion",
            "Record that the agent's goal was reached; only once every required field is known.",
            {
                "type": {"type": "string", "description": "qualified_lead, meeting or purchase."},
                "value": {"type": "number", "description": "Value of the conversion, e.g. the lead's budget."},
                "currency": {"type": "string", "description": "ISO 4217 code, e.g. BRL."},
            },
            ["type"],
        ),
        _tool(
            "end_conversation",
            "Close the conversation: the lead said goodbye or is not interested.",
            {"reason": {"type": "string", "description": "e.g. not_interested, goodbye."}},
            ["reason"],
        ),
    ]


def _field_properties(fields: Sequence[QualificationField]) -> dict[str, Any]:
    """A typed property per field; contact fields are always present, the lead row stores them."""
    properties = {f.name: _property(f) for f in fields}
    for name in CONTACT_FIELDS:
        contact = QualificationField(name=name, type="text" if name == "name" else name)  # type: ignore[arg-type]
        properties.setdefault(name, _property(contact))
    return properties


def _property(field: QualificationField) -> dict[str, Any]:
    json_type, hint = _TYPES.get(field.type, ("string", ""))
    description = field.description or _CONTACT_DESCRIPTIONS.get(field.name, field.name)
    prop: dict[str, Any] = {"type": json_type, "description": f"{description} ({hint})" if hint else description}
    if field.choices and json_type == "string":
        prop["enum"] = list(field.choices)
    return prop


def _update_lead_description(fields: Sequence[QualificationField]) -> str:
    required = ", ".join(f.name for f in fields if f.required)
    text = "Save what the lead told you about themself; send only the fields you learned."
    return f"{text} Required before a conversion: {required}." if required else text


def _tool(name: str, description: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    parameters: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        parameters["required"] = required
    return {"type": "function", "function": {"name": name, "description": description, "parameters": parameters}}
