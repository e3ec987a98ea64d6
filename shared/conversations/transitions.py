"""Who answers a conversation: the bot, a human who took over, or nobody once it is closed.

    bot --takeover--> human --release--> bot;   bot | human --close--> closed

Each transition is one transaction and one conditional UPDATE, so two racing requests
cannot both win; each leaves a lead event and a system message in the timeline.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import partial

from shared import idempotency, ratelimit
from shared.auth import Principal
from shared.conversations import access
from shared.conversations.messages import StoredMessage, queue_turn
from shared.conversations.models import Conversation, HumanReply, Message
from shared.db import user_write
from shared.errors import Conflict, IdempotentReplay
from shared.idempotency import IdempotencyKey
from shared.jobs import Queued, SendJob, submit

OK = 200
CREATED = 201


# One statement for every edge: move the conversation if it is in a state the edge leaves from, log the event
# (a lead event and a system message), mark the newest unanswered lead message queued when Python queues its
# turn, and return the conversation as its answer's jsonb, remembered for the Idempotency-Key.
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
    ), p as (
        select p.id from public.messages p join c on c.id = p.conversation_id
        where p.role = 'lead' and p.handled_at is null
        order by p.created_at desc, p.id desc limit 1
    ), q as (
        -- h10writes: stored queued before the enqueue, which follows the commit (shared.conversations.messages)
        update public.messages m set status = 'queued'
        from p where m.id = p.id and %(queue_pending)s and m.status in ('received', 'queued')
    ), a as (
        select c.organization_id, c.updated_at, (select p.id from p) as pending_message_id,
               (to_jsonb(c) - 'visitor_token_hash')
               || jsonb_build_object('cost_usd', c.cost_usd::text, 'lead', to_jsonb(l)) as answer
        from c join public.leads l on l.id = c.lead_id
    )
    select a.organization_id, a.updated_at, a.pending_message_id, a.answer,
           app.remember_response(%(idem_key)s, %(idem_hash)s, a.organization_id, 200, a.answer, null) as remembered
    from a
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
    ), m as (
        insert into public.messages as m (organization_id, conversation_id, role, author_id, content, status)
        select c.organization_id, c.id, 'human', (select auth.uid()), %(content)s,
               (case when c.channel = 'whatsapp' then 'queued' else 'sent' end)::public.message_status
        from c
        returning m.*
    ), a as (
        select m.organization_id, to_jsonb(m) || jsonb_build_object('cost_usd', m.cost_usd::text) as answer from m
    )
    select a.answer,
           app.remember_response(%(idem_key)s, %(idem_hash)s, a.organization_id, 201, a.answer, null) as remembered
    from a
"""


async def apply(
    principal: Principal, conversation_id: uuid.UUID, transition: Transition, key: IdempotencyKey | None
) -> Conversation:
    """Apply ``transition``: 409 unless the conversation is in a state it leaves from; editors and above."""
    target = await access.for_write(principal, conversation_id)
    await ratelimit.limit_organization(target.organization_id)
    if key is None and target.status not in transition.allowed_from:
        raise _refused(target.status, transition)  # with a key, a replay of the first answer comes first
    # Back to the bot: it answers what the lead said since the human's last reply.
    queue_pending = transition is RELEASE
    params = {"id": conversation_id, "to": transition.to, "from": list(transition.allowed_from)}
    params |= {"event": transition.event, "queue_pending": queue_pending, **idempotency.remembered(key)}
    write = partial(user_write, principal.claims)
    try:
        rows = await write(idempotency.claim_first(key), (_TRANSITION, params))
    except IdempotentReplay as replay:
        raise idempotency.replayed_as(replay, Conversation) from None
    if not rows:
        if target.status not in transition.allowed_from:
            raise _refused(target.status, transition)
        raise Conflict("the conversation changed meanwhile; reload it")
    row = rows[0]
    conversation = Conversation.model_validate(row["answer"])
    pending = row["pending_message_id"]
    if queue_pending and pending is not None:
        # That message may have been queued (and skipped by the worker) before the takeover, so this turn
        # gets its own dedup id, or SQS would drop it as a duplicate within five minutes.
        stored = StoredMessage(pending, conversation.id, conversation.organization_id, "queued")
        dedup_id = f"{pending}:released:{row['updated_at'].timestamp():.6f}"
        undo = idempotency.remember(key, target.organization_id, OK, conversation)
        await queue_turn(stored, write, undo, dedup_id=dedup_id)
    return conversation


async def human_reply(
    principal: Principal, conversation_id: uuid.UUID, data: HumanReply, key: IdempotencyKey | None
) -> Message:
    """A message from the human who has the conversation; 409 unless a human has taken it over."""
    target = await access.for_write(principal, conversation_id)
    await ratelimit.limit_organization(target.organization_id)
    if target.status != "human" and key is None:
        raise Conflict("take the conversation over before replying")
    params = {"id": conversation_id, "content": data.content, **idempotency.remembered(key)}
    try:
        rows = await user_write(principal.claims, idempotency.claim_first(key), (_HUMAN_REPLY, params))
    except IdempotentReplay as replay:
        raise idempotency.replayed_as(replay, Message) from None
    if not rows:
        if target.status != "human":
            raise Conflict("take the conversation over before replying")
        raise Conflict("the conversation changed meanwhile; reload it")
    message = Message.model_validate(rows[0]["answer"])
    if target.channel == "whatsapp":
        # Sent by the turn worker in the conversation's send group, after the replies stored before it.
        await submit([Queued(conversation_id, SendJob(message_id=message.id))])
    return message


def _refused(status: str, transition: Transition) -> Conflict:
    return Conflict(f"a {status} conversation cannot be {transition.event.replace('_', ' ')}")
