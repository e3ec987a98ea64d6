"""Presets expand into qualification fields and a rubric."""

from __future__ import annotations

from typing import Any

from shared.agents.presets import apply_preset, preset_fields

BANT = ["name", "email", "phone", "budget", "authority", "need", "timeline"]


def test_bant_is_the_four_criteria_plus_contact_fields() -> None:
    fields = preset_fields("bant", [])
    assert [f["name"] for f in fields] == BANT
    assert {f["name"]: f["type"] for f in fields}["budget"] == "money"
    assert all(f["description"] for f in fields)


def test_extra_fields_follow_and_same_named_ones_replace_in_place() -> None:
    # given an override of budget and a new field
    extra: list[dict[str, Any]] = [
        {"name": "segment", "type": "text"},
        {"name": "budget", "type": "number", "required": False},
    ]
    # when BANT is expanded with them / then budget keeps its place, the new field comes last
    fields = preset_fields("bant", extra)
    assert [f["name"] for f in fields] == [*BANT, "segment"]
    assert fields[3] == {"name": "budget", "type": "number", "required": False}


def test_duplicates_among_extra_fields_are_kept_for_validation_to_report() -> None:
    fields = preset_fields("bant", [{"name": "budget"}, {"name": "budget"}])
    assert [f["name"] for f in fields].count("budget") == 2


def test_the_preset_rubric_applies_unless_one_is_given() -> None:
    # given a threshold but no rubric / then BANT's rubric is used and the threshold kept
    values = apply_preset({"persona": "p"}, "bant", [], {"qualified_threshold": 50})
    assert values["scoring"] == {"qualified_threshold": 50, "rubric": dict.fromkeys(BANT[3:], 25)}
    # given a rubric / then it wins
    own = apply_preset({"persona": "p"}, "bant", [], {"rubric": {"budget": 100}})
    assert own["scoring"]["rubric"] == {"budget": 100}


def test_the_preset_never_mutates_its_own_definition() -> None:
    preset_fields("bant", [])[0]["name"] = "changed"
    assert preset_fields("bant", [])[0]["name"] == "name"
