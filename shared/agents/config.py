"""An agent's configuration: the JSON stored in ``agent_versions.config`` and read by the turn worker.

Key names are the worker's (``shared/turns``, ``app.begin_turn``): ``scoring.rubric``,
``scoring.qualified_threshold``, ``handoff.*``, ``model``, ``fallback_model``, ``on_budget_exhausted``.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue, StringConstraints, model_validator

# The one list of model aliases an agent may name; infra/litellm's model_list serves the same names.
ModelAlias = Literal["fast", "smart", "economy"]
MODEL_ALIASES: frozenset[str] = frozenset(get_args(ModelAlias))

Goal = Literal["qualify", "book_meeting", "purchase"]
FieldType = Literal["text", "email", "phone", "money", "number", "date", "choice", "boolean"]
BudgetAction = Literal["fallback", "handoff", "refuse"]

_BCP47 = re.compile(r"^([a-z]{2,3})(-[a-z]{4})?(-(?:[a-z]{2}|[0-9]{3}))?$", re.IGNORECASE)


def _canonical_language(value: str) -> str:
    """``pt-br`` → ``pt-BR``, ``zh-hans-cn`` → ``zh-Hans-CN``; anything else is refused."""
    match = _BCP47.fullmatch(value)
    if match is None:
        raise ValueError("must be a BCP-47 language tag such as pt-BR or en")
    lang, script, region = match.groups()
    return lang.lower() + (f"-{script[1:].title()}" if script else "") + (region.upper() if region else "")


def _text(max_length: int, min_length: int = 0) -> object:
    return StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length)


Language = Annotated[str, AfterValidator(_canonical_language)]
FieldName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
Persona = Annotated[str, _text(2000, 1)]
Instructions = Annotated[str, _text(8000)]
Description = Annotated[str, _text(500)]
Choice = Annotated[str, _text(100, 1)]
Keyword = Annotated[str, _text(64, 1)]
TemplateName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,512}$")]
Temperature = Annotated[float, Field(ge=0, le=2, allow_inf_nan=False)]
Points = Annotated[int, Field(ge=0, le=100)]
DelayHours = Annotated[int, Field(ge=1, le=720)]


class Strict(BaseModel):
    """Strict types, and unknown fields are an error that names the field."""

    model_config = ConfigDict(extra="forbid", strict=True)


class QualificationField(Strict):
    """One thing the agent must find out about the lead; ``choices`` only (and always) for ``choice``."""

    name: FieldName
    type: FieldType = "text"
    required: bool = False
    description: Description = ""
    choices: list[Choice] | None = Field(default=None, min_length=1, max_length=50)

    @model_validator(mode="after")
    def _choices_match_type(self) -> QualificationField:
        if (self.type == "choice") != (self.choices is not None):
            raise ValueError("choices are required for type 'choice' and allowed for no other type")
        return self


class Scoring(Strict):
    """Points per known field (without a rubric the required fields share 100) and the bar to qualify."""

    rubric: dict[FieldName, Points] | None = None
    qualified_threshold: Points = 70


class Handoff(Strict):
    """When the bot hands the conversation to a human."""

    on_request: bool = True
    keywords: list[Keyword] = Field(default_factory=list, max_length=50)
    min_score: Points | None = None
    max_bot_turns: int | None = Field(default=None, ge=1, le=200)


StepMinutes = Annotated[int, Field(ge=1, le=43200)]
ClockTime = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
IsoWeekday = Annotated[int, Field(ge=1, le=7)]
StepText = Annotated[str, _text(1000, 1)]


class FollowUpStep(Strict):
    """One touch of a sequence, ``after_minutes`` of lead silence: a model-written nudge or a fixed text."""

    after_minutes: StepMinutes
    kind: Literal["model", "text"] = "model"
    text: StepText | None = None
    instruction: Annotated[str, _text(1000)] = ""

    @model_validator(mode="after")
    def _text_matches_kind(self) -> FollowUpStep:
        if (self.kind == "text") != (self.text is not None):
            raise ValueError("text is required for kind 'text' and allowed for no other kind")
        return self


class QuietHours(Strict):
    """Local times (the lead's time zone) between which nothing is sent; ``start`` may be after ``end``."""

    start: ClockTime = "21:00"
    end: ClockTime = "08:00"


class FollowUp(Strict):
    """Follow-ups a cron sends to leads who went quiet (``shared/followups``).

    ``steps`` is the sequence; without it, ``delays_hours[:max_attempts]`` are model-written steps.
    """

    enabled: bool = False
    delays_hours: list[DelayHours] = Field(default_factory=lambda: [24], max_length=10)
    max_attempts: int = Field(default=1, ge=0, le=10)
    template: TemplateName | None = None
    steps: list[FollowUpStep] = Field(default_factory=list, max_length=10)
    restart_on_reply: bool = True
    quiet_hours: QuietHours = Field(default_factory=QuietHours)
    business_days: list[IsoWeekday] = Field(default_factory=lambda: [1, 2, 3, 4, 5], min_length=1, max_length=7)
    max_per_period: int = Field(default=3, ge=1, le=50)
    period_days: int = Field(default=7, ge=1, le=90)

    def sequence(self) -> list[FollowUpStep]:
        """The steps in order (the legacy ``delays_hours`` become model-written steps)."""
        if self.steps:
            return list(self.steps)
        return [FollowUpStep(after_minutes=h * 60) for h in self.delays_hours[: self.max_attempts]]


class AgentConfig(Strict):
    """Everything a model turn reads; validate with ``shared.agents.rules.build_config``."""

    persona: Persona
    instructions: Instructions = ""
    goal: Goal = "qualify"
    language: Language = "pt-BR"
    model: ModelAlias = "fast"
    fallback_model: ModelAlias | None = Field(default=None, description="alias used when the budget is short")
    temperature: Temperature = 0.3
    qualification_fields: list[QualificationField] = Field(default_factory=list, max_length=30)
    scoring: Scoring = Field(default_factory=Scoring)
    handoff: Handoff = Field(default_factory=Handoff)
    follow_up: FollowUp = Field(default_factory=FollowUp)
    on_budget_exhausted: BudgetAction = "fallback"
    whatsapp: dict[str, JsonValue] | None = Field(default=None, description="reserved for WhatsApp template settings")


def whatsapp_template(whatsapp: object) -> JsonValue | None:
    """The approved template an agent's ``whatsapp`` settings name (sent outside the 24 h window), or None."""
    return whatsapp.get("template") if isinstance(whatsapp, dict) else None


CONFIG_KEYS: frozenset[str] = frozenset(AgentConfig.model_fields)
