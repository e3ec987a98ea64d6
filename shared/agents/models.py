"""Request and response models for agents.

A body carries the configuration keys (``AgentConfig``) at its top level, next to the
agent's own columns (``name``, ``allowed_origins``); the response nests them as ``config``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, JsonValue, StringConstraints

from shared.agents.config import (
    AgentConfig,
    BudgetAction,
    FollowUp,
    Goal,
    Handoff,
    Instructions,
    Language,
    ModelAlias,
    Persona,
    QualificationField,
    Scoring,
    Strict,
    Temperature,
)
from shared.agents.origins import canonical_origin
from shared.agents.presets import Preset

AgentStatus = Literal["active", "archived"]
AgentName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Origin = Annotated[str, AfterValidator(canonical_origin)]


def _unique(origins: list[str]) -> list[str]:
    return list(dict.fromkeys(origins))


Origins = Annotated[list[Origin], Field(max_length=20), AfterValidator(_unique)]
_PRESET = "expands to the preset's fields (BANT: budget, authority, need, timeline, name, e-mail, phone)"


class CreateAgent(AgentConfig):
    """Body of ``POST /organizations/{organization_id}/agents``: the name, the widget origins and a config."""

    name: AgentName
    allowed_origins: Origins = Field(default_factory=list, description="http(s) origins the web widget may run on")
    preset: Preset | None = Field(default=None, description=_PRESET + "; qualification_fields are added after")


class UpdateAgent(Strict):
    """Body of ``PATCH /agents/{agent_id}``: only the keys sent change; ``null`` resets a config key."""

    name: AgentName | None = None
    allowed_origins: Origins | None = None
    rotate_publishable_key: bool = Field(default=False, description="issue a new widget key; the old one stops")
    expected_version: int | None = Field(default=None, ge=1, description="409 unless this is the current version")
    preset: Preset | None = Field(default=None, description=_PRESET + "; replaces qualification_fields")
    persona: Persona | None = None
    instructions: Instructions | None = None
    goal: Goal | None = None
    language: Language | None = None
    model: ModelAlias | None = None
    fallback_model: ModelAlias | None = None
    temperature: Temperature | None = None
    qualification_fields: list[QualificationField] | None = Field(default=None, max_length=30)
    scoring: Scoring | None = None
    handoff: Handoff | None = None
    follow_up: FollowUp | None = None
    on_budget_exhausted: BudgetAction | None = None
    whatsapp: dict[str, JsonValue] | None = None


class Agent(BaseModel):
    """An agent with one version of its configuration (the current one unless another was asked for)."""

    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    status: AgentStatus = Field(
        description="an archived agent starts no new conversations; existing ones keep their pinned version"
    )
    current_version: int
    version: int = Field(description="the version `config` belongs to")
    publishable_key: str = Field(description="identifies the agent to the public web widget")
    allowed_origins: list[str]
    config: dict[str, Any] = Field(description="the stored AgentConfig")
    archived_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class AgentList(BaseModel):
    """Body of ``GET /organizations/{organization_id}/agents``: one page, newest first."""

    data: list[Agent]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null on the last")
