"""Write events to the transactional outbox, in the caller's transaction.

Call ``emit`` inside the ``service_session()`` / ``user_session()`` that makes the change the
event reports: the event then exists exactly when the change committed. From SQL, call
``app.emit_event(organization_id, type, payload)`` the same way.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from pydantic_core import to_json

from shared.db import Session
from shared.errors import AppError
from shared.events.catalog import EventType, is_event_type


async def emit(
    session: Session, organization_id: uuid.UUID, event_type: EventType, payload: Mapping[str, Any]
) -> uuid.UUID:
    """Record one event for ``organization_id``; returns its id (stable across every delivery)."""
    if not is_event_type(event_type):
        raise ValueError(f"{event_type!r} is not in the event catalog")
    row = await session.one(
        "select app.emit_event(%s, %s, %s::jsonb) as id",
        (organization_id, event_type, to_json(dict(payload)).decode()),
    )
    if row is None:
        raise AppError("event was not recorded")
    return uuid.UUID(str(row["id"]))
