"""Use cases of the public web widget, which carries no user JWT.

So they run on the service path (``service_session``, RLS bypassed), and every
statement is scoped by what the caller proved: the agent its publishable key names
(and whose allowed origins include the browser's), or the one conversation its
visitor token unlocks.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared import idempotency, pagination
from shared.conversations import creation
from shared.conversations.messages import ACCEPTED, queue_turn, store_lead_message, stored_from, turn_status
from shared.conversations.models import ConversationStatus, LeadContact, MessageAccepted, PostMessage
from shared.conversations.widget_auth import WidgetClient, new_token, token_hash, token_matches
from shared.conversations.widget_models import (
    StartWidgetConversation,
    WidgetConversation,
    WidgetConversationStarted,
    WidgetMessage,
)
from shared.db import service_call, service_write
from shared.errors import Forbidden, IdempotentReplay, Unauthorized
from shared.idempotency import IdempotencyKey
from shared.observability.context import bind_organization

CREATED = 201
_AGENT_BY_KEY = """
    select a.id, a.organization_id, a.status::text as status, a.current_version, a.allowed_origins
    from public.agents a where a.publishable_key = %s
"""
_VISITOR_CONVERSATION = """
    select c.id, c.organization_id, c.status::text as status, c.created_at, c.visitor_token_hash
    from public.conversations c where c.id = %s and c.channel = 'web'
"""
_REPLACE_VISITOR_HASH = "update public.conversations c set visitor_token_hash = %s where c.id = %s and c.agent_id = %s"
# The conversation and a page of the messages a visitor sees (limit + 1), in one statement; the token
# is checked on the returned hash before anything is shown.
_CONVERSATION_WITH_MESSAGES = """
    select c.id, c.organization_id, c.status::text as status, c.created_at, c.visitor_token_hash,
           (select coalesce(jsonb_agg(to_jsonb(m) order by m.created_at, m.id), '[]'::jsonb)
            from (
                select m.id, m.role::text as role, m.content, m.content_type, m.created_at
                from public.messages m
                where m.conversation_id = c.id and m.role in ('lead', 'assistant', 'human')
                  and (%(after_t)s::timestamptz is null
                       or (m.created_at, m.id) > (%(after_t)s::timestamptz, %(after_id)s::uuid))
                order by m.created_at, m.id
                limit %(fetch)s
            ) m) as messages_page
    from public.conversations c where c.id = %(conversation_id)s and c.channel = 'web'
"""


@dataclass(frozen=True)
class Visitor:
    """The conversation a visitor token unlocked."""

    conversation_id: uuid.UUID
    organization_id: uuid.UUID
    status: ConversationStatus
    created_at: datetime


async def start_conversation(
    client: WidgetClient, data: StartWidgetConversation, key: IdempotencyKey | None
) -> WidgetConversationStarted:
    """Create the visitor's lead and a web conversation; the visitor token is in the response only."""
    token = new_token()
    agent = _agent_for(await service_call(_AGENT_BY_KEY, (client.publishable_key,)), client)
    # Scoped to this caller: the same key from anyone else is another key, never this conversation.
    scope = client.idempotency_scope(agent.id)
    statement = creation.start(
        agent,
        data.visitor or LeadContact(),
        channel="web",
        message=data.message,
        message_status=turn_status("bot"),
        actor="widget",
        key=key,
        scope=scope,
        visitor_token_hash=token_hash(token),
    )
    try:
        if agent.status != "active":
            await idempotency.replay_before_refusing(service_write, key, scope=scope)
            agent.check_active()
        conversation, first = creation.started(
            await service_write(idempotency.claim_first(key, scope=scope), statement)
        )
    except IdempotentReplay as replay:
        # Only the token's hash was kept, so the caller's own retry re-issues it (revoking the first).
        await service_call(_REPLACE_VISITOR_HASH, (token_hash(token), replay.body["conversation_id"], agent.id))
        raise idempotency.replayed_as(replay, WidgetConversationStarted, visitor_token=token) from None
    started = WidgetConversationStarted(
        conversation_id=conversation.id,
        visitor_token=token,
        status=conversation.status,
        first_message=conversation.first_message,
    )
    if first is None:
        return started
    received = started.model_copy(update={"first_message": MessageAccepted(id=first.id, status="received")})
    undo = idempotency.remember(key, agent.organization_id, CREATED, received, scope=scope, omit="visitor_token")
    return started if await queue_turn(first, service_write, undo) else received


def _agent_for(row: dict[str, Any] | None, client: WidgetClient) -> creation.Agent:
    if row is None:
        raise Unauthorized("unknown publishable key")
    bind_organization(row["organization_id"])
    if client.origin is None or client.origin not in row["allowed_origins"]:
        raise Forbidden("this origin may not use the agent's widget")
    return creation.Agent(row["id"], row["organization_id"], row["status"], row["current_version"])


async def post_message(
    conversation_id: uuid.UUID, token: str, data: PostMessage, key: IdempotencyKey | None
) -> MessageAccepted:
    """Store the visitor's message and queue the agent's turn, as ``POST /conversations/{id}/messages`` does."""
    scope = f"conversation:{conversation_id}"
    visitor = _checked_visitor(await service_call(_VISITOR_CONVERSATION, (conversation_id,)), token)
    statement = store_lead_message(conversation_id, data.content, turn_status(visitor.status), key, scope)
    stored = stored_from(await service_write(idempotency.claim_first(key, scope=scope), statement))
    received = MessageAccepted(id=stored.id, status="received")
    undo = idempotency.remember(key, visitor.organization_id, ACCEPTED, received, scope=scope)
    if await queue_turn(stored, service_write, undo):
        return MessageAccepted(id=stored.id, status="queued")
    return received


async def get_conversation(
    conversation_id: uuid.UUID, token: str, *, limit: int, cursor: str | None
) -> WidgetConversation:
    """The visitor's conversation and a page of its lead, assistant and human messages."""
    position = pagination.decode(cursor, "query.cursor")
    params = {"conversation_id": conversation_id, "fetch": limit + 1, **pagination.bounds(position)}
    row = await service_call(_CONVERSATION_WITH_MESSAGES, params)
    visitor = _checked_visitor(row, token)
    fetched = [WidgetMessage.model_validate(m) for m in row["messages_page"]] if row else []
    page = fetched[:limit]
    next_cursor = pagination.encode(page[-1].created_at, page[-1].id) if len(fetched) > limit and page else None
    poll_cursor = pagination.encode(page[-1].created_at, page[-1].id) if page else cursor
    return WidgetConversation(
        id=visitor.conversation_id,
        status=visitor.status,
        created_at=visitor.created_at,
        messages=page,
        next_cursor=next_cursor,
        poll_cursor=poll_cursor,
    )


def _checked_visitor(row: dict[str, Any] | None, token: str) -> Visitor:
    # One answer for an unknown conversation and a wrong token: neither reveals the other.
    if not token_matches(token, row["visitor_token_hash"] if row else None) or row is None:
        raise Unauthorized("invalid visitor token")
    bind_organization(row["organization_id"])
    return Visitor(row["id"], row["organization_id"], row["status"], row["created_at"])
