"""Who answers a conversation: the bot, a human who took over, or nobody once it is closed.

    bot --takeover--> human --release--> bot;   bot | human --close--> closed

Each transition is one transaction and one conditional UPDATE, so two racing requests
cannot both win; each leaves a lead event and a system message in the timeline.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from shared import idempotency, ratelimit
from shared.auth import Principal
from shared.conversations import access
from shared.conversations.messages import StoredMessage, dispatch
from shared.conversations.models import Conversation, HumanReply, Message
from shared.db import user_session
from shared.errors import Conflict
from shared.idempotency import IdempotencyKey
from shared.jobs import Queued, SendJob, submit

OK = 200
CREATED = 201


# One statement for every edge: move the conversation if it is in a state the edge leaves from, log
# the event (a lead event and a system message), and return it with its newest unanswered lead message.
_TRANSITION = """
    with c as (
        update public.conversations c set
            status = %(to)s::text,
            assigned_to = case %(to)s::text when 'human' then (select auth.uid()) when 'bot' then null
                          else c.assigned_to end,
            closed_at = case when %(to)s::text = 'closed' then now() else c.closed_at end
        where c.id = %(id)s and c.status::text = any(%(from)s::text[])
        returning c.*
    ), e as (
        insert into public.lead_events (organization_id, lead_id, conversation_id, type, actor)
        select c.organization_id, c.lead_id, c.id, 'conversation.' || %(event)s::text, 'user:' || (select auth.uid())
        from c
    ), s as (
        insert into public.messages (organization_id, conversation_id, role, author_id, content, status, payload)
        select c.organization_id, c.id, 'system', (select auth.uid()), %(event)s::text, 'sent',
               jsonb_build_object('event', %(event)s::text)
        from c
    )
    select c.*, to_jsonb(l) as lead, (
        select p.id from public.messages p
        where p.conversation_id = c.id and p.role = 'lead' and p.handled_at is null
        order by p.created_at desc, p.id desc limit 1
    ) as pending_message_id
    from c join public.leads l on l.id = c.lead_id
"""


@dataclass(frozen=True)
class Transition:
    """One edge of the state machine."""

    event: str
    to: str
    allowed_from: tuple[str, ...]


TAKE_OVER = Transition("taken_over", "human", ("bot",))
RELEASE = Transition("released", "bot", ("human",))
CLOSE = Transition("closed", "closed", ("bot", "human"))

_HUMAN_REPLY = """
    with c as (
        update public.conversations c set last_message_at = now()
        where c.id = %(id)s and c.status = 'human'
        returning c.id, c.organization_id, c.channel
    ), answered as (
        -- The human's reply answers what the lead said before it; a later return to the bot must not.
        update public.messages m set handled_at = now(), status = 'read'
        from c where m.conversation_id = c.id and m.role = 'lead' and m.handled_at is null
    )
    insert into public.messages as m (organization_id, conversation_id, role, author_id, content, status)
    select c.organization_id, c.id, 'human', (select auth.uid()), %(content)s,
           (case when c.channel = 'whatsapp' then 'queued' else 'sent' end)::public.message_status
    from c
    returning m.*
"""


async def apply(
    principal: Principal, conversation_id: uuid.UUID, transition: Transition, key: IdempotencyKey | None
) -> Conversation:
    """Apply ``transition``: 409 unless the conversation is in a state it leaves from; editors and above."""
    target = await access.for_write(principal, conversation_id)
    await ratelimit.limit_organization(target.organization_id)
    async with user_session(principal.claims) as db:
        if replay := await idempotency.claim(db, key):
            raise replay
        if target.status not in transition.allowed_from:
            raise Conflict(f"a {target.status} conversation cannot be {transition.event.replace('_', ' ')}")
        params = {"id": conversation_id, "to": transition.to, "from": list(transition.allowed_from)}
        row = await db.one(_TRANSITION, {**params, "event": transition.event})
        if row is None:
            raise Conflict("the conversation changed meanwhile; reload it")
        pending = row.pop("pending_message_id")
        conversation = access.conversation_from(row)
        await idempotency.save(db, key, target.organization_id, OK, conversation)
    if transition is RELEASE and pending is not None:
        # Back to the bot: it answers what the lead said since the human's last reply. That message may
        # have been queued (and skipped by the worker) before the takeover, so this turn gets its own
        # dedup id, or SQS would drop it as a duplicate within five minutes.
        stored = StoredMessage(pending, conversation.id, conversation.organization_id, "bot")
        dedup_id = f"{pending}:released:{conversation.updated_at.timestamp():.6f}"
        await dispatch(stored, lambda: user_session(principal.claims), dedup_id=dedup_id)
    return conversation


async def human_reply(
    principal: Principal, conversation_id: uuid.UUID, data: HumanReply, key: IdempotencyKey | None
) -> Message:
    """A message from the human who has the conversation; 409 unless a human has taken it over."""
    target = await access.for_write(principal, conversation_id)
    await ratelimit.limit_organization(target.organization_id)
    async with user_session(principal.claims) as db:
        if replay := await idempotency.claim(db, key):
            raise replay
        if target.status != "human":
            raise Conflict("take the conversation over before replying")
        row = await db.one(_HUMAN_REPLY, {"id": conversation_id, "content": data.content})
        if row is None:
            raise Conflict("the conversation changed meanwhile; reload it")
        message = Message.model_validate(row)
        await idempotency.save(db, key, target.organization_id, CREATED, message)
    if target.channel == "whatsapp":
        # Sent by the turn worker in the conversation's send group, after the replies stored before it.
        await submit([Queued(conversation_id, SendJob(message_id=message.id))])
    return message
