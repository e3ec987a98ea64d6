"""Lead messages: stored first, in their own transaction, then put on the turn queue, then marked queued.

A message is never lost to a queue outage: if the enqueue fails it stays ``received``
and ``shared.conversations.requeue`` sends it later. Shared by the authenticated API
and the public widget, which differ only in the session they write with.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from shared import idempotency, ratelimit
from shared.auth import Principal
from shared.conversations import access
from shared.conversations.models import MessageAccepted, PostMessage
from shared.db import Session, user_session
from shared.errors import Conflict
from shared.idempotency import IdempotencyKey
from shared.jobs import OnQueued, Queued, SessionFactory, TurnJob, submit

ACCEPTED = 202

# Touching the conversation locks it, so a concurrent close or takeover is ordered with this
# insert, and the status returned is the one the message was stored under.
_STORE_LEAD_MESSAGE = """
    with c as (
        update public.conversations c set last_message_at = now()
        where c.id = %(conversation_id)s and c.status <> 'closed'
        returning c.id, c.organization_id, c.status::text as status
    ), m as (
        insert into public.messages (organization_id, conversation_id, role, content, status)
        select c.organization_id, c.id, 'lead', %(content)s, 'received' from c
        returning id, conversation_id
    )
    select m.id, m.conversation_id, c.organization_id, c.status as conversation_status
    from m join c on c.id = m.conversation_id
"""


@dataclass(frozen=True)
class StoredMessage:
    """A lead message just stored, and the conversation status it was stored under."""

    id: uuid.UUID
    conversation_id: uuid.UUID
    organization_id: uuid.UUID
    conversation_status: str


async def store_lead_message(db: Session, conversation_id: uuid.UUID, content: str) -> StoredMessage:
    """Insert a lead message (status received); 409 when the conversation is closed."""
    row = await db.one(_STORE_LEAD_MESSAGE, {"conversation_id": conversation_id, "content": content})
    if row is None:
        raise Conflict("the conversation is closed")
    return StoredMessage(row["id"], row["conversation_id"], row["organization_id"], row["conversation_status"])


async def dispatch(
    stored: StoredMessage, session: SessionFactory, on_queued: OnQueued | None = None, *, dedup_id: str | None = None
) -> Literal["received", "queued"]:
    """Enqueue the message's turn, then mark it queued (and run ``on_queued``) in one transaction.

    A conversation a human has taken over gets no model turn: the human answers.
    """
    if stored.conversation_status != "bot":
        return "received"
    job = Queued(stored.conversation_id, TurnJob(message_id=stored.id), dedup_id)
    return "queued" if await submit([job], session, on_queued) else "received"


async def post_message(
    principal: Principal, conversation_id: uuid.UUID, data: PostMessage, key: IdempotencyKey | None
) -> MessageAccepted:
    """Store a lead message posted through the API and queue the agent's turn; editors and above."""
    target = await access.for_write(principal, conversation_id)
    await ratelimit.limit_organization(target.organization_id)
    async with user_session(principal.claims) as db:
        if replay := await idempotency.claim(db, key):
            raise replay
        stored = await store_lead_message(db, conversation_id, data.content)
        received = MessageAccepted(id=stored.id, status="received")
        await idempotency.save(db, key, target.organization_id, ACCEPTED, received)
    queued = MessageAccepted(id=stored.id, status="queued")
    status = await dispatch(
        stored,
        lambda: user_session(principal.claims),
        lambda db: idempotency.save(db, key, target.organization_id, ACCEPTED, queued),
    )
    return queued if status == "queued" else received
