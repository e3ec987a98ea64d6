"""Find a conversation for a write, and read conversations back, under the caller's RLS."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from shared.auth import Principal
from shared.conversations.models import Conversation
from shared.db import user_read
from shared.errors import Forbidden, NotFound
from shared.observability.context import bind_organization

# RLS shows the row to every member; only editors and above may change it, which a plain
# select cannot tell (an UPDATE would just match nothing), so the role is read alongside.
_FOR_WRITE = """
    select c.id, c.organization_id, c.status::text as status, c.channel::text as channel,
           c.organization_id in (select app.my_org_ids_with_role('editor')) as can_write
    from public.conversations c
    where c.id = %s
"""


@dataclass(frozen=True)
class Target:
    """A conversation the caller may write to, as it stood when read."""

    id: uuid.UUID
    organization_id: uuid.UUID
    status: str
    channel: str


async def for_write(principal: Principal, conversation_id: uuid.UUID) -> Target:
    """The conversation, or 404 when the caller cannot see it and 403 when they may only read it.

    Read in a transaction of its own (one round trip), before the write's: the rate limit that
    follows calls Redis, which must not happen while a transaction holds the connection. The
    write re-checks the status it needs in its own statement, and RLS re-checks the role.
    """
    rows = await user_read(principal.claims, _FOR_WRITE, (conversation_id,))
    row = rows[0] if rows else None
    if row is None:
        raise NotFound("conversation not found")
    bind_organization(row["organization_id"])
    if not row["can_write"]:
        raise Forbidden("only editors, admins and owners change conversations")
    return Target(row["id"], row["organization_id"], row["status"], row["channel"])


def conversation_from(row: dict[str, Any]) -> Conversation:
    """A Conversation from a row of ``c.*`` and its lead as ``lead`` (jsonb)."""
    return Conversation.model_validate(row)
