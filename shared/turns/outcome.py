"""What ``app.finish_turn`` receives: one typed model, serialised with ``model_dump_json``.

Every field is a decision already made in Python; the SQL function only writes it, atomically,
under the conversation's row lock.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.leads.stages import Stage


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Citation(_Out):
    """A knowledge chunk a reply used, with the source and the version it belongs to."""

    chunk_id: uuid.UUID
    document_id: uuid.UUID
    version: int


class Reply(_Out):
    """The assistant message to store (and, on WhatsApp, send)."""

    content: str
    model: str
    tokens_in: int = 0
    tokens_out: int = 0
    latency_ms: int = 0
    citations: list[Citation] = Field(default_factory=list)


class Usage(_Out):
    """One row of the usage ledger."""

    model: str
    alias: str
    tokens_in: int
    tokens_out: int
    latency_ms: int
    fallback_used: bool


class KnowledgeUsage(_Out):
    """The ledger row of the turn's embedding calls (the lead's question, any ``search_knowledge``)."""

    model: str
    alias: str
    tokens_in: int
    latency_ms: int
    cost_usd: Decimal


class Unanswered(_Out):
    """A question nothing in the agent's sources answered: the agent said so and offered a person."""

    question: str


class LeadPatch(_Out):
    """Lead columns to change; ``None`` keeps the stored value."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None
    qualification: dict[str, Any] | None = None
    score: int | None = None
    stage: Stage | None = None


class LeadEvent(_Out):
    """A lead event (its outbox event follows from it)."""

    type: str
    from_stage: Stage | None = None
    to_stage: Stage | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class Conversion(_Out):
    """A conversion attributed to the conversation's agent version."""

    type: str
    value: Decimal
    currency: str


class Problem(_Out):
    """An RFC 9457 problem, kept on the lead message."""

    type: str
    title: str
    status: int
    detail: str | None = None


class TurnOutcome(_Out):
    """Everything one turn changes, applied by ``app.finish_turn`` in one transaction."""

    organization_id: uuid.UUID
    conversation_id: uuid.UUID
    message_id: uuid.UUID
    pending: list[uuid.UUID]
    reservation_id: uuid.UUID | None
    settle: Literal["charge", "release"] = "charge"
    cost_usd: Decimal = Decimal(0)
    reply: Reply | None = None
    usage: Usage | None = None
    lead: LeadPatch | None = None
    events: list[LeadEvent] = Field(default_factory=list)
    conversion: Conversion | None = None
    conversation_status: Literal["human", "closed"] | None = None
    message_error: Problem | None = None
    # A follow-up step's turn that must not reply: its step and the rest of its silence stop with this reason.
    follow_up_stop: Literal["budget_exhausted", "lead_replied"] | None = None
    knowledge_usage: KnowledgeUsage | None = None
    unanswered: Unanswered | None = None
