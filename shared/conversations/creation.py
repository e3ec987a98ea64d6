"""Create a conversation: upsert its lead, pin the agent's current version, store any first message.

Shared by the authenticated API and the public widget; the caller's session decides
who is writing, and the caller has already checked the agent.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from shared.conversations.models import Conversation, LeadContact, MessageAccepted
from shared.db import Session
from shared.errors import AppError, Conflict

_UPSERT_LEAD = "select l.id from app.upsert_lead(%s, %s, %s, %s, %s::public.channel) l"
# One statement: the conversation, its first lead message (if any) and the lead event.
_INSERT_CONVERSATION = """
    with c as (
        insert into public.conversations
            (organization_id, agent_id, agent_version, lead_id, channel, last_message_at, visitor_token_hash)
        values (%(organization_id)s, %(agent_id)s, %(agent_version)s, %(lead_id)s, %(channel)s::public.channel,
                case when %(message)s::text is null then null else now() end, %(visitor_token_hash)s)
        returning *
    ), m as (
        insert into public.messages (organization_id, conversation_id, role, content, status)
        select c.organization_id, c.id, 'lead', %(message)s::text, 'received' from c
        where %(message)s::text is not null
        returning id
    ), e as (
        insert into public.lead_events (organization_id, lead_id, conversation_id, type, actor, data)
        select c.organization_id, c.lead_id, c.id, 'conversation.started', %(actor)s,
               jsonb_build_object('channel', c.channel, 'agent_id', c.agent_id, 'agent_version', c.agent_version)
        from c
    )
    select c.*, to_jsonb(l) as lead, (select m.id from m) as first_message_id
    from c join public.leads l on l.id = c.lead_id
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


async def create(
    db: Session,
    agent: Agent,
    lead: LeadContact,
    *,
    channel: str,
    message: str | None,
    actor: str,
    visitor_token_hash: bytes | None = None,
) -> Conversation:
    """Insert the conversation on the agent's current version; its first message stays ``received``."""
    lead_row = await db.one(_UPSERT_LEAD, (agent.organization_id, lead.name, lead.email, lead.phone, channel))
    if lead_row is None:
        raise AppError("lead was not stored")
    row = await db.one(
        _INSERT_CONVERSATION,
        {
            "organization_id": agent.organization_id,
            "agent_id": agent.id,
            "agent_version": agent.current_version,
            "lead_id": lead_row["id"],
            "channel": channel,
            "message": message,
            "visitor_token_hash": visitor_token_hash,
            "actor": actor,
        },
    )
    if row is None:
        raise AppError("conversation was not stored")
    first = row.pop("first_message_id")
    conversation = Conversation.model_validate(row)
    if first is not None:
        conversation.first_message = MessageAccepted(id=first, status="received")
    return conversation
