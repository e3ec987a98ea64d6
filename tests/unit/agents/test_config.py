"""The agent configuration model and the rules across its fields (pure, no I/O)."""

from __future__ import annotations

from typing import Any

import pytest

from shared.agents.config import MODEL_ALIASES, AgentConfig, ModelAlias
from shared.agents.rules import build_config
from shared.errors import InvalidInput

BASE: dict[str, Any] = {"persona": "Sofia"}


def _fields(exc: pytest.ExceptionInfo[InvalidInput]) -> list[str]:
    return [e.field for e in exc.value.errors]


def test_defaults_fill_every_key_the_worker_reads() -> None:
    # given only a persona / when it is built
    config = build_config(BASE)
    # then the stored JSON has the worker's keys, and no nulls
    assert config == {
        "persona": "Sofia",
        "instructions": "",
        "goal": "qualify",
        "language": "pt-BR",
        "model": "fast",
        "temperature": 0.3,
        "qualification_fields": [],
        "scoring": {"qualified_threshold": 70},
        "handoff": {"on_request": True, "keywords": []},
        "follow_up": {
            "enabled": False,
            "delays_hours": [24],
            "max_attempts": 1,
            "steps": [],
            "restart_on_reply": True,
            "quiet_hours": {"start": "21:00", "end": "08:00"},
            "business_days": [1, 2, 3, 4, 5],
            "max_per_period": 3,
            "period_days": 7,
        },
        "on_budget_exhausted": "fallback",
    }


def test_the_seed_agent_config_is_valid() -> None:
    # given the config infra/supabase/seed.sql stores for the demo agent
    seed = {
        "persona": "Sofia, consultora de imóveis simpática e objetiva",
        "instructions": "Qualifique o lead com BANT e ofereça uma visita quando ele estiver qualificado.",
        "goal": "book_meeting",
        "language": "pt-BR",
        "model": "fast",
        "temperature": 0.3,
        "qualification_fields": [
            {"name": "name", "type": "text", "required": True, "description": "Nome do lead"},
            {"name": "budget", "type": "money", "required": True, "description": "Orçamento"},
        ],
    }
    # when it is built / then it keeps every value
    assert build_config(seed).items() >= seed.items()


@pytest.mark.parametrize(
    ("tag", "canonical"), [("pt-br", "pt-BR"), ("EN", "en"), ("es-419", "es-419"), ("zh-hans-cn", "zh-Hans-CN")]
)
def test_language_tags_are_canonicalised(tag: str, canonical: str) -> None:
    assert build_config({**BASE, "language": tag})["language"] == canonical


@pytest.mark.parametrize("tag", ["portuguese", "pt_BR", "p", "pt-BRA-x", ""])
def test_other_language_values_are_refused(tag: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        build_config({**BASE, "language": tag})
    assert _fields(exc) == ["body.language"]


def test_model_aliases_are_declared_once() -> None:
    # given the alias type / then the set used for validation is exactly its values
    assert set(ModelAlias.__args__) == MODEL_ALIASES == {"fast", "smart", "economy"}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"temperature": True}, "body.temperature"),
        ({"temperature": float("nan")}, "body.temperature"),
        ({"qualification_fields": [{"name": "x", "required": 1}]}, "body.qualification_fields.0.required"),
        ({"qualification_fields": [{"name": "x", "choices": ["a"]}]}, "body.qualification_fields.0"),
        ({"handoff": {"min_score": "80"}}, "body.handoff.min_score"),
        ({"unknown": 1}, "body.unknown"),
    ],
)
def test_types_are_strict_and_unknown_keys_refused(values: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        build_config({**BASE, **values})
    assert _fields(exc) == [field]


def test_a_choice_field_keeps_its_choices() -> None:
    fields = [{"name": "plan", "type": "choice", "choices": ["basic", "pro"], "required": True}]
    assert build_config({**BASE, "qualification_fields": fields})["qualification_fields"][0]["choices"] == [
        "basic",
        "pro",
    ]


def test_rules_across_fields_each_name_their_field() -> None:
    # given duplicate fields, a rubric over an unknown field that cannot reach the bar, a broken follow-up
    values = {
        **BASE,
        "qualification_fields": [{"name": "budget"}, {"name": "budget"}],
        "scoring": {"rubric": {"budget": 10, "ghost": 10}, "qualified_threshold": 50},
        "follow_up": {"enabled": True, "delays_hours": [48, 24], "max_attempts": 3},
    }
    # when it is built / then every problem is reported, each on its own field
    with pytest.raises(InvalidInput) as exc:
        build_config(values)
    assert _fields(exc) == [
        "body.qualification_fields.1.name",
        "body.scoring.rubric.ghost",
        "body.scoring.qualified_threshold",
        "body.follow_up.max_attempts",
        "body.follow_up.delays_hours",
    ]


def test_a_rubric_may_score_contact_fields() -> None:
    values = {**BASE, "scoring": {"rubric": {"email": 50, "phone": 50}, "qualified_threshold": 100}}
    assert build_config(values)["scoring"]["rubric"] == {"email": 50, "phone": 50}


def test_enabled_follow_ups_need_a_delay() -> None:
    with pytest.raises(InvalidInput) as exc:
        build_config({**BASE, "follow_up": {"enabled": True, "delays_hours": [], "max_attempts": 0}})
    assert _fields(exc) == ["body.follow_up.delays_hours"]


def test_the_model_alone_checks_shapes_not_cross_field_rules() -> None:
    # given duplicate field names / then the model accepts them: build_config is the entry point
    config = AgentConfig.model_validate({**BASE, "qualification_fields": [{"name": "a"}, {"name": "a"}]})
    assert len(config.qualification_fields) == 2


@pytest.mark.parametrize(
    ("follow_up", "field"),
    [
        ({"steps": [{"after_minutes": 0}]}, "body.follow_up.steps.0.after_minutes"),
        ({"steps": [{"after_minutes": 60, "kind": "text"}]}, "body.follow_up.steps.0"),
        ({"steps": [{"after_minutes": 60, "kind": "model", "text": "Oi"}]}, "body.follow_up.steps.0"),
        ({"steps": [{"after_minutes": 60, "kind": "sms"}]}, "body.follow_up.steps.0.kind"),
        ({"steps": [{"after_minutes": 120}, {"after_minutes": 60}]}, "body.follow_up.steps.1.after_minutes"),
        ({"quiet_hours": {"start": "25:00"}}, "body.follow_up.quiet_hours.start"),
        ({"quiet_hours": {"start": "08:00", "end": "08:00"}}, "body.follow_up.quiet_hours.end"),
        ({"business_days": [0]}, "body.follow_up.business_days.0"),
        ({"business_days": [1, 1]}, "body.follow_up.business_days"),
        ({"business_days": []}, "body.follow_up.business_days"),
        ({"max_per_period": 0}, "body.follow_up.max_per_period"),
        ({"period_days": 91}, "body.follow_up.period_days"),
    ],
)
def test_a_follow_up_sequence_is_validated_per_field(follow_up: dict[str, object], field: str) -> None:
    # given one wrong follow-up setting / when the config is built / then the error names that field
    with pytest.raises(InvalidInput) as exc:
        build_config({**BASE, "follow_up": follow_up})
    assert _fields(exc) == [field]


def test_a_sequence_of_steps_replaces_the_delays() -> None:
    # given a sequence of a fixed text after 1 h and a model nudge after 24 h, and no delays
    steps = [{"after_minutes": 60, "kind": "text", "text": "Ainda por aí?"}, {"after_minutes": 1440}]
    config = build_config(
        {**BASE, "follow_up": {"enabled": True, "delays_hours": [], "max_attempts": 0, "steps": steps}}
    )
    # then it is stored, and its sequence is the steps in order
    assert [s["after_minutes"] for s in config["follow_up"]["steps"]] == [60, 1440]
    assert AgentConfig.model_validate(config).follow_up.sequence()[1].kind == "model"
