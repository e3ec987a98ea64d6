"""What ``app.begin_turn`` loads for a turn, parsed once into typed models.

The agent's config is parsed into ``AgentConfig`` here, so its defaults live in one place
(``shared.agents.config``); nothing downstream reads a raw dict with a default.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.agents.config import AgentConfig, QualificationField
from shared.leads.fields import CONTACT_FIELDS
from shared.leads.stages import Stage

Status = Literal["ok", "budget_exhausted", "missing", "done", "not_bot"]


class _Loaded(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class ConversationRef(_Loaded):
    """The conversation the turn answers in."""

    id: uuid.UUID
    agent_id: uuid.UUID | None = None
    channel: str = "web"
    summary: str | None = None


class LeadState(_Loaded):
    """What the agent knows about the lead, and where it stands."""

    stage: Stage = "new"
    score: int = 0
    qualification: dict[str, Any] = Field(default_factory=dict)
    name: str | None = None
    email: str | None = None
    phone: str | None = None


class HistoryMessage(_Loaded):
    """One message of the recent history, oldest first."""

    id: uuid.UUID
    role: str
    content: str = ""
    content_type: str = "text"


class Delivery(_Loaded):
    """Whether a reply can reach the lead (WhatsApp only): the 24-hour window and the lead's consent."""

    window_open: bool = True
    consent: bool = True


class KnowledgeRef(_Loaded):
    """Present when the agent has a ready knowledge source: the organization's embedding alias (None: default)."""

    embedding_model: str | None = None


class TurnContext(_Loaded):
    """A conversation ready for a model turn, with its budget reservation for ``alias``."""

    status: Status
    organization_id: uuid.UUID
    conversation: ConversationRef
    config: AgentConfig
    lead: LeadState = Field(default_factory=LeadState)
    history: list[HistoryMessage] = Field(default_factory=list)
    pending: list[uuid.UUID] = Field(default_factory=list)
    alias: str | None = None
    reservation_id: uuid.UUID | None = None
    prompt_chars: int = 0
    delivery: Delivery = Field(default_factory=Delivery)
    knowledge: KnowledgeRef | None = None

    @property
    def conversation_id(self) -> uuid.UUID:
        return self.conversation.id

    @property
    def fields(self) -> list[QualificationField]:
        """The agent's qualification fields."""
        return self.config.qualification_fields

    @property
    def language(self) -> str:
        return self.config.language

    def known(self) -> dict[str, Any]:
        """What is known about the lead: its qualification data plus its contact columns."""
        known = dict(self.lead.qualification)
        for name in CONTACT_FIELDS:
            value = getattr(self.lead, name)
            if value:
                known[name] = value
        return known

    def pending_texts(self) -> list[str]:
        pending = set(self.pending)
        return [m.content for m in self.history if m.role == "lead" and m.id in pending]
