"""Conversation use cases for signed-in members; each request is one transaction under their claims."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

from shared import idempotency, pagination, ratelimit
from shared.auth import Principal
from shared.conversations import creation
from shared.conversations.access import conversation_from
from shared.conversations.messages import queue_turn, turn_status
from shared.conversations.models import (
    Conversation,
    ConversationDetail,
    ConversationList,
    ConversationStatus,
    Message,
    MessageAccepted,
    MessagePage,
    StartConversation,
)
from shared.db import user_read, user_write
from shared.errors import AppError, Forbidden, IdempotentReplay, InvalidInput, NotFound
from shared.idempotency import IdempotencyKey
from shared.observability.context import bind_organization

CREATED = 201
_START_CHECKS = """
    select o.id in (select app.my_org_ids_with_role('editor')) as can_write,
           a.id, a.organization_id, a.status::text as status, a.current_version
    from public.organizations o
    left join public.agents a on a.id = %(agent_id)s and a.organization_id = o.id
    where o.id = %(organization_id)s
"""
# One round trip: no row means the organization is not visible; one row with a null id, no conversations.
# Newest first, in app.list_conversations (PL/pgSQL, so its plan is kept per connection).
_LIST = """
    select (r.conversation).*, r.lead
    from app.list_conversations(
        %(organization_id)s, %(status)s, %(agent_id)s, %(fetch)s, %(after_t)s, %(after_id)s
    ) r
"""
# The conversation, its lead and a page of its messages (limit + 1, to know whether more follow), in one statement
# of app.read_conversation (PL/pgSQL, so its plan is kept per connection).
_GET = """
    select (r.conversation).*, r.lead, r.messages_page
    from app.read_conversation(%(conversation_id)s, %(fetch)s, %(after_t)s, %(after_id)s) r
"""


async def start_conversation(
    principal: Principal, organization_id: uuid.UUID, data: StartConversation, key: IdempotencyKey | None
) -> Conversation:
    """Start a conversation between an agent and a lead (upserted); editors and above."""
    bind_organization(organization_id)
    checked = await _start_checks(principal, organization_id, data.agent_id)
    await ratelimit.limit_organization(organization_id)  # after the membership check, outside any transaction
    write = partial(user_write, principal.claims)
    try:
        try:
            agent = _startable(checked)
        except AppError:
            await idempotency.replay_before_refusing(write, key)
            raise
        statement = creation.start(
            agent,
            data.lead,
            channel=data.channel,
            message=data.message,
            message_status=turn_status("bot"),  # a conversation starts with the bot
            actor=f"user:{principal.user_id}",
            key=key,
        )
        conversation, first = creation.started(await write(idempotency.claim_first(key), statement))
    except IdempotentReplay as replay:
        raise idempotency.replayed_as(replay, Conversation) from None
    if first is None:
        return conversation
    received = conversation.model_copy(update={"first_message": MessageAccepted(id=first.id, status="received")})
    if await queue_turn(first, write, idempotency.remember(key, organization_id, CREATED, received)):
        return conversation
    return received


async def _start_checks(principal: Principal, organization_id: uuid.UUID, agent_id: uuid.UUID) -> dict[str, Any]:
    """404 unless the caller is a member, 403 unless an editor or above; a read of its own (one round trip)."""
    rows = await user_read(principal.claims, _START_CHECKS, {"organization_id": organization_id, "agent_id": agent_id})
    row = rows[0] if rows else None
    if row is None:
        raise NotFound("organization not found")
    if not row["can_write"]:
        raise Forbidden("only editors, admins and owners start conversations")
    return row


def _startable(row: dict[str, Any]) -> creation.Agent:
    """422 for an agent outside the organization, 409 for an archived one."""
    if row["id"] is None:
        raise InvalidInput.for_field("body.agent_id", "no such agent in this organization")
    agent = creation.Agent(row["id"], row["organization_id"], row["status"], row["current_version"])
    agent.check_active()
    return agent


async def list_conversations(
    principal: Principal,
    organization_id: uuid.UUID,
    *,
    limit: int,
    cursor: str | None,
    status: ConversationStatus | None,
    agent_id: uuid.UUID | None,
) -> ConversationList:
    """A page of the organization's conversations, newest first; any member."""
    bind_organization(organization_id)
    position = pagination.decode(cursor, "query.cursor")
    params = {"organization_id": organization_id, "status": status, "agent_id": agent_id, "fetch": limit + 1}
    rows = await user_read(principal.claims, _LIST, {**params, **pagination.bounds(position)})
    if not rows:
        raise NotFound("organization not found")
    rows = [r for r in rows if r["id"] is not None]
    page, next_cursor = pagination.split(rows, limit)
    return ConversationList(data=[conversation_from(r) for r in page], next_cursor=next_cursor)


async def get_conversation(
    principal: Principal, conversation_id: uuid.UUID, *, messages_limit: int, messages_cursor: str | None
) -> ConversationDetail:
    """One conversation with a page of its messages, oldest first; any member."""
    position = pagination.decode(messages_cursor, "query.messages_cursor")
    params = {"conversation_id": conversation_id, "fetch": messages_limit + 1, **pagination.bounds(position)}
    rows = await user_read(principal.claims, _GET, params)
    if not rows:
        raise NotFound("conversation not found")
    row = rows[0]
    bind_organization(row["organization_id"])
    fetched = [Message.model_validate(m) for m in row.pop("messages_page")]
    page = fetched[:messages_limit]
    more = len(fetched) > messages_limit
    next_cursor = pagination.encode(page[-1].created_at, page[-1].id) if more and page else None
    messages = MessagePage(data=page, next_cursor=next_cursor)
    return ConversationDetail.model_validate({**row, "messages": messages})
