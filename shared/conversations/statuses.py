"""A message's delivery statuses and their order: they only move forward, and ``failed`` is terminal.

The one ordering; ``app.message_status_ranks`` holds the same rows (seeded by a migration, a test
keeps them equal), read by ``app.message_status_rank`` when status callbacks arrive out of order.
"""

from __future__ import annotations

from typing import Final

MESSAGE_STATUS_RANK: Final[dict[str, int]] = {
    "received": 0,
    "queued": 1,
    "sent": 2,
    "delivered": 3,
    "read": 4,
    "failed": 5,
}
