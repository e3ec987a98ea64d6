"""Receive one signed webhook delivery: parse, deduplicate, store, enqueue, and answer fast.

The webhook carries no user JWT, so it runs on the service path (RLS bypassed). What it may
touch is decided by the delivery itself: each change is routed by its ``phone_number_id`` to
the enabled WhatsApp integration that owns it, and everything is scoped to that organization.
The whole delivery is one statement in one transaction (``app.whatsapp_receive``); turns are
enqueued after it commits, and marked queued after that (a failed enqueue leaves the message
``received`` for the sweep cron).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from shared.db import service_call
from shared.jobs import Queued, TurnJob, submit
from shared.leads.fields import normalise_phone
from shared.observability import logger, metrics
from shared.whatsapp import content, dedup, keywords
from shared.whatsapp.payload import Message, Value, parse

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_MAX_NAME = 120


class WebhookAck(BaseModel):
    """What one delivery changed; Meta only needs the 200."""

    stored: int
    duplicates: int
    statuses: int


@dataclass
class Change:
    """One ``value`` of the delivery, normalised for ``app.whatsapp_receive``."""

    phone_number_id: str
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)  # dedup key -> message
    statuses: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self, claimed: set[str]) -> dict[str, Any]:
        mine = [m for k, m in self.messages.items() if k in claimed]
        return {"phone_number_id": self.phone_number_id, "messages": mine, "statuses": self.statuses}


async def receive(body: bytes) -> WebhookAck:
    """Store what ``body`` (already verified) delivers and queue a turn per new lead message."""
    changes = [c for c in (_change(v) for v in parse(body).values()) if c is not None]
    keys = [k for c in changes for k in c.messages]
    claimed = await dedup.claim(keys)
    copies = len(keys) - len(claimed)
    if not claimed and not any(c.statuses for c in changes):
        return WebhookAck(stored=0, duplicates=copies, statuses=0)
    request = {"keywords": keywords.defaults(), "changes": [c.as_json(claimed) for c in changes]}
    try:
        row = await service_call("select app.whatsapp_receive(%s::jsonb) as result", (json.dumps(request),))
    except BaseException:
        await dedup.release(list(claimed))
        raise
    result: dict[str, Any] = (row or {}).get("result") or {}
    for number in result.get("unrouted") or []:
        logger.warning("whatsapp delivery for an unknown phone_number_id; ignored", extra={"number": number})
        metrics.add_metric(name="WhatsAppUnrouted", unit="Count", value=1)
    stored: list[dict[str, Any]] = result.get("stored") or []
    await asyncio.gather(_dispatch(stored), dedup.confirm(list(claimed)))
    return WebhookAck(
        stored=len(stored),
        duplicates=copies + int(result.get("duplicates") or 0),
        statuses=int(result.get("statuses") or 0),
    )


async def _dispatch(stored: list[dict[str, Any]]) -> None:
    """Enqueue each new message's turn, then mark the enqueued ones queued in one statement."""
    await submit(
        [Queued(uuid.UUID(s["conversation_id"]), TurnJob(message_id=s["id"])) for s in stored if s.get("enqueue")]
    )


def _change(value: Value) -> Change | None:
    number = value.metadata.phone_number_id
    if not number:
        return None
    change = Change(number)
    names = {c.wa_id: c.profile.name for c in value.contacts if c.wa_id}
    for message in value.messages:
        row = _message(message, names)
        if row is not None:
            change.messages[dedup.key(number, row["wamid"])] = row
    change.statuses = [
        {
            "id": s.id,
            "status": s.status,
            "timestamp": _timestamp(s.timestamp),
            "errors": [e.model_dump(exclude_none=True) for e in s.errors],
        }
        for s in value.statuses
        if s.id and s.status
    ]
    return change


def _message(message: Message, names: dict[str, str | None]) -> dict[str, Any] | None:
    phone = _phone(message.from_)
    if not message.id or phone is None:
        logger.warning("whatsapp message without an id or a sender; ignored", extra={"type": message.type})
        return None
    parsed = content.of(message)
    name = names.get(message.from_ or "")
    return {
        "wamid": message.id,
        "phone": phone,
        "name": name.strip()[:_MAX_NAME] or None if name else None,
        "timestamp": _timestamp(message.timestamp),
        "content": parsed.content,
        "content_type": parsed.content_type,
        "payload": parsed.payload,
        "keyword": parsed.keyword,
        "answer": parsed.answer,
    }


def _phone(wa_id: str | None) -> str | None:
    """``+`` and the wa_id in E.164; a number phonenumbers does not know yet is kept as Meta sent it."""
    digits = re.sub(r"\D", "", wa_id or "")
    if not digits:
        return None
    raw = "+" + digits
    normalised = normalise_phone(raw)
    if normalised is not None:
        return normalised
    return raw if _E164.match(raw) else None


def _timestamp(value: str | None) -> int:
    return int(value) if value and value.isdigit() else int(time.time())
