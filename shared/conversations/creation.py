"""Create a conversation: upsert its lead, pin the agent's current version, store any first message.

Shared by the authenticated API and the public widget; the caller's role decides who is writing, and the
caller has already checked the agent. One statement, run after the Idempotency-Key's claim in the same
script (one round trip), that also remembers the answer.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from shared import idempotency
from shared.conversations.messages import StoredMessage, TurnStatus
from shared.conversations.models import Conversation, LeadContact
from shared.db import Statement
from shared.db.session import Row
from shared.errors import AppError, Conflict
from shared.idempotency import IdempotencyKey

# The lead, the conversation, its first lead message (if any) and the lead event; the answer is the
# conversation's jsonb (with ``conversation_id`` for the widget's shape), remembered for the key.
_START = """
    with l as (
        select * from app.upsert_lead(%(organization_id)s, %(name)s, %(email)s, %(phone)s, %(channel)s::public.channel)
    ), c as (
        insert into public.conversations
            (organization_id, agent_id, agent_version, lead_id, channel, last_message_at, visitor_token_hash)
        select %(organization_id)s, %(agent_id)s, %(agent_version)s, l.id, %(channel)s::public.channel,
               case when %(message)s::text is null then null else now() end, %(visitor_token_hash)s
        from l
        returning *
    ), m as (
        insert into public.messages (organization_id, conversation_id, role, content, status)
        select c.organization_id, c.id, 'lead', %(message)s::text, %(message_status)s::public.message_status from c
        where %(message)s::text is not null
        returning id, status::text as status
    ), e as (
        insert into public.lead_events (organization_id, lead_id, conversation_id, type, actor, data)
        select c.organization_id, c.lead_id, c.id, 'conversation.started', %(actor)s,
               jsonb_build_object('channel', c.channel, 'agent_id', c.agent_id, 'agent_version', c.agent_version)
        from c
    ), a as (
        select c.organization_id,
               (to_jsonb(c) - 'visitor_token_hash') || jsonb_build_object(
                   'conversation_id', c.id, 'cost_usd', c.cost_usd::text, 'lead', to_jsonb(l),
                   'first_message', (select jsonb_build_object('id', m.id, 'status', m.status) from m)
               ) as answer
        from c cross join l
    )
    select a.answer,
           app.remember_response(%(idem_key)s, %(idem_hash)s, a.organization_id, 201, a.answer, %(idem_scope)s)
               as remembered
    from a
"""


@dataclass(frozen=True)
class Agent:
    """The agent a new conversation runs on."""

    id: uuid.UUID
    organization_id: uuid.UUID
    status: str
    current_version: int

    def check_active(self) -> None:
        """Archived agents start no conversations."""
        if self.status != "active":
            raise Conflict("the agent is archived and starts no new conversations")


def start(
    agent: Agent,
    lead: LeadContact,
    *,
    channel: str,
    message: str | None,
    message_status: TurnStatus,
    actor: str,
    key: IdempotencyKey | None,
    scope: str | None = None,
    visitor_token_hash: bytes | None = None,
) -> Statement:
    """The statement that creates the conversation on the agent's current version and remembers the answer."""
    params: dict[str, Any] = {
        "organization_id": agent.organization_id,
        "agent_id": agent.id,
        "agent_version": agent.current_version,
        "name": lead.name,
        "email": lead.email,
        "phone": lead.phone,
        "channel": channel,
        "message": message,
        "message_status": message_status,
        "visitor_token_hash": visitor_token_hash,
        "actor": actor,
    }
    return (_START, {**params, **idempotency.remembered(key, scope=scope)})


def started(rows: list[Row]) -> tuple[Conversation, StoredMessage | None]:
    """The conversation ``start`` created, and its first message if any."""
    if not rows:
        raise AppError("conversation was not stored")
    conversation = Conversation.model_validate(rows[0]["answer"])
    first = conversation.first_message
    stored = (
        StoredMessage(first.id, conversation.id, conversation.organization_id, first.status)
        if first is not None
        else None
    )
    return conversation, stored
