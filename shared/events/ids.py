"""Public ids of events and delivery attempts, as subscribers see them (``evt_…``, ``dlv_…``)."""

from __future__ import annotations

import uuid


def event_public_id(event_id: uuid.UUID) -> str:
    """``evt_`` and the outbox row's uuid in hex: the same on every delivery of the event."""
    return f"evt_{event_id.hex}"


def delivery_public_id(delivery_id: uuid.UUID) -> str:
    """``dlv_`` and the attempt's uuid in hex: new for every attempt."""
    return f"dlv_{delivery_id.hex}"
