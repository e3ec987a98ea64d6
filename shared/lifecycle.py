"""Close every per-container client (container shutdown, SnapStart restore, tests)."""

from __future__ import annotations

from shared.clients.http import close_http
from shared.clients.redis import close_redis
from shared.clients.sqs import close_sqs
from shared.db.connection import close_connection
from shared.llm.router import close_llm


async def close_clients() -> None:
    """Close this container's database connection, Redis, HTTP and SQS clients."""
    await close_connection()
    await close_redis()
    await close_http()
    await close_llm()
    close_sqs()
