"""Questions the knowledge base could not answer, per agent (written by ``app.finish_turn``): the list
the team reads to know which documents to add."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import LiteralString

from pydantic import BaseModel

from shared import pagination
from shared.auth import Principal
from shared.db import user_read
from shared.errors import NotFound
from shared.observability.context import bind_organization

# The agent (so an unknown or foreign one is a 404) and a page of its questions, newest first, in one statement:
# limit + 1 rows; no row: the agent is not visible. PL/pgSQL, so its plan is kept per connection.
_PAGE: LiteralString = "select * from app.list_unanswered_questions(%(agent)s, %(after_t)s, %(after_id)s, %(limit)s)"


class UnansweredQuestion(BaseModel):
    """A lead's question nothing in the agent's sources answered; the agent said so and offered a person."""

    id: uuid.UUID
    conversation_id: uuid.UUID
    message_id: uuid.UUID
    question: str
    created_at: datetime


class UnansweredList(BaseModel):
    """Body of ``GET /agents/{agent_id}/knowledge/unanswered``, newest first."""

    data: list[UnansweredQuestion]
    next_cursor: str | None


async def list_unanswered(principal: Principal, agent_id: uuid.UUID, limit: int, cursor: str | None) -> UnansweredList:
    """One page of the agent's unanswered questions; every member of its organization may read them."""
    params = {"agent": agent_id, "limit": limit, **pagination.bounds(pagination.decode(cursor, "query.cursor"))}
    rows = await user_read(principal.claims, _PAGE, params)
    if not rows:
        raise NotFound("agent not found")
    bind_organization(rows[0]["agent_organization_id"])
    page, next_cursor = pagination.split([row for row in rows if row["id"] is not None], limit)
    return UnansweredList(data=[UnansweredQuestion.model_validate(row) for row in page], next_cursor=next_cursor)
