"""Qualification presets: named field lists (and a default rubric) an agent can start from."""

from __future__ import annotations

from typing import Any, Literal

Preset = Literal["bant"]

_BANT_FIELDS: tuple[dict[str, Any], ...] = (
    {"name": "name", "type": "text", "required": True, "description": "The lead's name"},
    {"name": "email", "type": "email", "required": True, "description": "The lead's e-mail address"},
    {"name": "phone", "type": "phone", "required": False, "description": "The lead's phone number"},
    {"name": "budget", "type": "money", "required": True, "description": "Budget: how much they can spend"},
    {
        "name": "authority",
        "type": "boolean",
        "required": True,
        "description": "Authority: whether they make or sign off the buying decision",
    },
    {"name": "need", "type": "text", "required": True, "description": "Need: the problem they want solved"},
    {"name": "timeline", "type": "text", "required": True, "description": "Timeline: when they intend to buy"},
)
# Budget, authority, need and timeline weigh the same; with the default threshold (70) three of four qualify.
_BANT_RUBRIC = {"budget": 25, "authority": 25, "need": 25, "timeline": 25}

PRESETS: dict[str, tuple[tuple[dict[str, Any], ...], dict[str, int]]] = {"bant": (_BANT_FIELDS, _BANT_RUBRIC)}


def preset_fields(preset: Preset, extra: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The preset's fields, then ``extra``: an extra field named like a preset one replaces it in place."""
    fields, _ = PRESETS[preset]
    used: set[int] = set()
    expanded = []
    for field in fields:
        override = next((i for i, f in enumerate(extra) if f.get("name") == field["name"]), None)
        if override is not None:
            used.add(override)
        expanded.append(dict(field if override is None else extra[override]))
    return expanded + [f for i, f in enumerate(extra) if i not in used]


def apply_preset(
    values: dict[str, Any], preset: Preset, fields: list[dict[str, Any]], scoring: dict[str, Any] | None
) -> dict[str, Any]:
    """``values`` with the preset's fields plus ``fields``, scored by the preset's rubric unless ``scoring`` has one."""
    rubric = (scoring or {}).get("rubric") or dict(PRESETS[preset][1])
    merged_scoring = {**(values.get("scoring") or {}), **(scoring or {}), "rubric": rubric}
    return {**values, "qualification_fields": preset_fields(preset, fields), "scoring": merged_scoring}
