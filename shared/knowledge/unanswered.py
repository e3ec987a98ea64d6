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

# The agent (so an unknown or foreign one is a 404) and a page of its questions, newest first, in one statement.
_PAGE: LiteralString = """
    select a.organization_id as agent_organization_id, q.id, q.conversation_id, q.message_id, q.question, q.created_at
    from public.agents a
    left join lateral (
        select x.* from public.knowledge_unanswered x
        where x.agent_id = a.id
          and (%(after_t)s::timestamptz is null or (x.created_at, x.id) < (%(after_t)s, %(after_id)s::uuid))
        order by x.created_at desc, x.id desc
        limit %(limit)s + 1
    ) q on true
    where a.id = %(agent)s
    order by q.created_at desc, q.id desc
"""


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
