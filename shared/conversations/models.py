"""Request and response models for conversations and their messages (the authenticated API)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from shared.leads.fields import normalise_email, normalise_phone

ConversationStatus = Literal["bot", "human", "closed"]
MessageRole = Literal["lead", "assistant", "human", "system", "tool"]
MessageStatus = Literal["received", "queued", "sent", "delivered", "read", "failed"]
# WhatsApp caps a text body at 4096 characters; the web takes the same, so replies fit both.
Content = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4096)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]


class LeadContact(BaseModel):
    """Who the lead is; e-mail and phone are normalised, and identify the lead within the organization."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    email: Annotated[str, StringConstraints(max_length=320)] | None = None
    phone: Annotated[str, StringConstraints(max_length=40)] | None = Field(
        default=None, description="E.164, or a national number read as Brazilian"
    )

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is None:
            return None
        normalised = normalise_email(value)
        if normalised is None:
            raise ValueError("is not a valid e-mail address")
        return normalised

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        normalised = normalise_phone(value)
        if normalised is None:
            raise ValueError("is not a valid phone number")
        return normalised


class StartConversation(BaseModel):
    """Body of ``POST /organizations/{organization_id}/conversations``."""

    model_config = ConfigDict(extra="forbid")

    agent_id: uuid.UUID
    lead: LeadContact = Field(default_factory=LeadContact)
    channel: Literal["api", "web"] = "api"
    message: Content | None = Field(default=None, description="The lead's first message, answered by the agent")


class PostMessage(BaseModel):
    """Body of ``POST /conversations/{conversation_id}/messages``: a message from the lead."""

    model_config = ConfigDict(extra="forbid")

    content: Content


class HumanReply(BaseModel):
    """Body of ``POST /conversations/{conversation_id}/replies``."""

    model_config = ConfigDict(extra="forbid")

    content: Content


class MessageAccepted(BaseModel):
    """A lead message stored; ``queued`` once its turn is on the queue, ``received`` until then."""

    id: uuid.UUID
    status: Literal["received", "queued"]


class Lead(BaseModel):
    """The lead a conversation is with."""

    id: uuid.UUID
    name: str | None
    email: str | None
    phone: str | None
    stage: str


class Conversation(BaseModel):
    """A conversation between an agent (or a human who took over) and a lead."""

    id: uuid.UUID
    organization_id: uuid.UUID
    agent_id: uuid.UUID
    agent_version: int
    channel: Literal["web", "whatsapp", "api"]
    status: ConversationStatus
    assigned_to: uuid.UUID | None
    lead: Lead
    cost_usd: Decimal
    last_message_at: datetime | None
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    first_message: MessageAccepted | None = None


class ConversationList(BaseModel):
    """Body of ``GET /organizations/{organization_id}/conversations``, newest first."""

    data: list[Conversation]
    next_cursor: str | None


class MessageCitation(BaseModel):
    """A knowledge chunk an assistant reply used: the chunk, its source and the source's version."""

    chunk_id: uuid.UUID
    document_id: uuid.UUID
    version: int


class Message(BaseModel):
    """A message as organization members see it, with its model usage and, on a reply that used the
    knowledge base, the chunks it cites."""

    id: uuid.UUID
    role: MessageRole
    author_id: uuid.UUID | None
    content: str
    content_type: str
    payload: dict[str, Any]
    status: MessageStatus
    reply_to: uuid.UUID | None
    model: str | None
    tokens_in: int | None
    tokens_out: int | None
    cost_usd: Decimal | None
    latency_ms: int | None
    error: dict[str, Any] | None
    citations: list[MessageCitation] | None = None
    handled_at: datetime | None
    created_at: datetime


class MessagePage(BaseModel):
    """Messages oldest first; ``next_cursor`` is null on the last page."""

    data: list[Message]
    next_cursor: str | None


class ConversationDetail(Conversation):
    """Body of ``GET /conversations/{conversation_id}``."""

    messages: MessagePage
