"""Lead messages: stored ``queued`` when their turn will be sent, then put on the turn queue after the commit.

Python decides whether the message gets a model turn (only a conversation with the bot does) and stores it
``queued`` in the same script that claims the Idempotency-Key and remembers the answer, so the write is one
round trip. A message is never lost to a queue outage: if the enqueue fails the message is marked
``received`` again (and the answer with it), and ``shared.conversations.requeue`` sends it later; if the
process dies between the commit and the enqueue, the sweep sends a ``queued`` message nobody handled.
Shared by the authenticated API and the public widget, which differ only in the role they write with.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Literal

from shared import idempotency, ratelimit
from shared.auth import Principal
from shared.conversations import access
from shared.conversations.models import MessageAccepted, PostMessage
from shared.db import Statement, user_write
from shared.db.session import Row
from shared.errors import AppError, Conflict
from shared.idempotency import IdempotencyKey
from shared.jobs import Queued, TurnJob, enqueue
from shared.observability import logger

ACCEPTED = 202
Writer = Callable[..., Awaitable[list[Row]]]  # user_write under a caller's claims, or service_write
TurnStatus = Literal["received", "queued"]

# Touching the conversation locks it, so a concurrent close or takeover is ordered with this insert.
_STORE_LEAD_MESSAGE = """
    with c as (
        update public.conversations c set last_message_at = now()
        where c.id = %(conversation_id)s and c.status <> 'closed'
        returning c.id, c.organization_id
    ), m as (
        insert into public.messages (organization_id, conversation_id, role, content, status)
        select c.organization_id, c.id, 'lead', %(content)s, %(status)s::public.message_status from c
        returning id, conversation_id, status::text as status
    )
    select m.id, m.conversation_id, c.organization_id, m.status,
           app.remember_response(%(idem_key)s, %(idem_hash)s, c.organization_id, 202,
                                 jsonb_build_object('id', m.id, 'status', m.status), %(idem_scope)s) as remembered
    from m join c on c.id = m.conversation_id
"""
# Only from queued: the worker may already have answered the message (and moved it on).
_BACK_TO_RECEIVED = "update public.messages m set status = 'received' where m.id = %s and m.status = 'queued'"


@dataclass(frozen=True)
class StoredMessage:
    """A lead message just stored, and whether its turn is to be queued."""

    id: uuid.UUID
    conversation_id: uuid.UUID
    organization_id: uuid.UUID
    status: TurnStatus


def turn_status(conversation_status: str) -> TurnStatus:
    """A conversation with the bot gets a model turn; one a human has taken over does not: the human answers."""
    return "queued" if conversation_status == "bot" else "received"


def store_lead_message(
    conversation_id: uuid.UUID, content: str, status: TurnStatus, key: IdempotencyKey | None, scope: str | None
) -> Statement:
    """The statement that inserts a lead message and remembers the answer; no row when the conversation is closed."""
    params = {"conversation_id": conversation_id, "content": content, "status": status}
    return (_STORE_LEAD_MESSAGE, {**params, **idempotency.remembered(key, scope=scope)})


def stored_from(rows: list[Row]) -> StoredMessage:
    """The message ``store_lead_message`` stored; 409 when the conversation is closed."""
    if not rows:
        raise Conflict("the conversation is closed")
    row = rows[0]
    return StoredMessage(row["id"], row["conversation_id"], row["organization_id"], row["status"])


async def queue_turn(stored: StoredMessage, write: Writer, undo: Statement, *, dedup_id: str | None = None) -> bool:
    """After the commit, send the turn of a message stored ``queued``; True once SQS took it.

    When SQS refuses, the message goes back to ``received`` and ``undo`` re-remembers the answer, in one
    round trip off the happy path; a failure there is logged: the sweep sends a ``queued`` message later.
    """
    if stored.status != "queued":
        return False
    if await enqueue(Queued(stored.conversation_id, TurnJob(message_id=stored.id), dedup_id)):
        return True
    try:
        await write((_BACK_TO_RECEIVED, (stored.id,)), undo)
    except AppError as exc:
        logger.warning("turn not enqueued and not marked received; the sweep sends it", extra={"error": exc.code})
    return False


async def post_message(
    principal: Principal, conversation_id: uuid.UUID, data: PostMessage, key: IdempotencyKey | None
) -> MessageAccepted:
    """Store a lead message posted through the API and queue the agent's turn; editors and above."""
    target = await access.for_write(principal, conversation_id)
    await ratelimit.limit_organization(target.organization_id)
    write = partial(user_write, principal.claims)
    statement = store_lead_message(conversation_id, data.content, turn_status(target.status), key, None)
    stored = stored_from(await write(idempotency.claim_first(key), statement))
    received = MessageAccepted(id=stored.id, status="received")
    if await queue_turn(stored, write, idempotency.remember(key, target.organization_id, ACCEPTED, received)):
        return MessageAccepted(id=stored.id, status="queued")
    return received
