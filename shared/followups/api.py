"""Follow-ups of one conversation for its organization's members: the next step, the history, pause and cancel.

Runs as ``authenticated`` under RLS (members read ``follow_ups``); changes go through
``public.set_follow_ups`` (editors and above).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from shared.auth import Principal
from shared.db import user_read, user_write
from shared.errors import NotFound

Action = Literal["pause", "resume", "cancel"]
HISTORY_LIMIT = 100
# The conversation and its latest steps, newest first, in one statement (no row: not visible);
# PL/pgSQL, so its plan is kept per connection.
_FOLLOW_UPS = "select id, paused, steps from app.read_follow_ups(%(id)s, %(limit)s)"
# The change and the follow-ups it leaves, in one script (one round trip): _FOLLOW_UPS sees the change
# made before it in the same transaction.
_CHANGE = "select public.set_follow_ups(%s, %s) as result"


class FollowUpStep(BaseModel):
    """One step of a sequence: ``scheduled`` or ``paused``, else ``sent``, ``skipped`` or ``stopped`` with a reason."""

    model_config = ConfigDict(frozen=True)
    id: uuid.UUID
    step: int
    status: str
    reason: str | None
    kind: str | None
    due_at: datetime
    finished_at: datetime | None
    message_id: uuid.UUID | None
    silence_began_at: datetime
    time_zone: str


class FollowUps(BaseModel):
    """A conversation's next scheduled follow-up and its history, newest first."""

    conversation_id: uuid.UUID
    paused: bool
    next: FollowUpStep | None
    history: list[FollowUpStep]


def _step(row: dict[str, object]) -> FollowUpStep:
    return FollowUpStep.model_validate({**row, "silence_began_at": row["anchor_at"]})


async def follow_ups(principal: Principal, conversation_id: uuid.UUID) -> FollowUps:
    """The conversation's follow-ups, as its organization's members see them (404 for anyone else)."""
    rows = await user_read(principal.claims, _FOLLOW_UPS, {"id": conversation_id, "limit": HISTORY_LIMIT})
    return _follow_ups(conversation_id, rows)


async def change(principal: Principal, conversation_id: uuid.UUID, action: Action) -> FollowUps:
    """Pause, resume or cancel the conversation's follow-ups (editors and above), then show them."""
    rows = await user_write(
        principal.claims,
        (_CHANGE, (conversation_id, action)),
        (_FOLLOW_UPS, {"id": conversation_id, "limit": HISTORY_LIMIT}),
    )
    return _follow_ups(conversation_id, rows)


def _follow_ups(conversation_id: uuid.UUID, rows: list[dict[str, Any]]) -> FollowUps:
    if not rows:
        raise NotFound("conversation not found")
    conversation = rows[0]
    steps = [_step(r) for r in conversation["steps"]]
    waiting = sorted((s for s in steps if s.status in ("scheduled", "paused")), key=lambda s: s.due_at)
    return FollowUps(
        conversation_id=conversation_id,
        paused=bool(conversation["paused"]),
        next=waiting[0] if waiting else None,
        history=[s for s in steps if s.status not in ("scheduled", "paused", "claimed")],
    )
