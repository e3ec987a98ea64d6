"""Request and response models of the public web widget: no internal fields (cost, model, errors)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.conversations.models import Content, ConversationStatus, LeadContact, MessageAccepted


class StartWidgetConversation(BaseModel):
    """Body of ``POST /widget/conversations``."""

    model_config = ConfigDict(extra="forbid")

    visitor: LeadContact | None = None
    message: Content | None = Field(default=None, description="The visitor's first message")


class WidgetConversationStarted(BaseModel):
    """A conversation started from the widget, with the token that proves it is the visitor's."""

    conversation_id: uuid.UUID
    visitor_token: str = Field(
        description="Shown once (a replay re-issues it): send it as 'Authorization: Bearer <token>'"
    )
    status: ConversationStatus
    first_message: MessageAccepted | None = None


class WidgetMessage(BaseModel):
    """A message as the visitor sees it."""

    id: uuid.UUID
    role: Literal["lead", "assistant", "human"]
    content: str
    content_type: str
    created_at: datetime


class WidgetConversation(BaseModel):
    """Body of ``GET /widget/conversations/{conversation_id}``: a page of messages, oldest first.

    ``next_cursor`` is null on the last page; poll with ``poll_cursor`` to get only what is new.
    """

    id: uuid.UUID
    status: ConversationStatus
    created_at: datetime
    messages: list[WidgetMessage]
    next_cursor: str | None
    poll_cursor: str | None
