"""Readiness checks: can this container reach Postgres and Redis right now?"""

from __future__ import annotations

import asyncio
from typing import Literal

from pydantic import BaseModel

from shared.clients.redis import get_redis
from shared.db.connection import get_connection
from shared.errors import AppError
from shared.http.app import API_VERSION

CHECK_TIMEOUT_SECONDS = 2.0
Status = Literal["ok", "error"]


class Health(BaseModel):
    """Body of ``GET /health``."""

    status: Status
    version: str
    checks: dict[str, Status]


async def _database() -> None:
    conn = await get_connection()
    await conn.execute("select 1")


async def _redis() -> None:
    redis = await get_redis()
    await redis.ping()


async def _check(probe: asyncio.Future[None] | asyncio.Task[None]) -> Status:
    try:
        await asyncio.wait_for(probe, CHECK_TIMEOUT_SECONDS)
    except (AppError, OSError, TimeoutError, Exception):
        return "error"
    return "ok"


async def check_health() -> Health:
    """Probe every dependency concurrently; ``ok`` only when all answer."""
    database, redis = await asyncio.gather(
        _check(asyncio.ensure_future(_database())), _check(asyncio.ensure_future(_redis()))
    )
    checks: dict[str, Status] = {"database": database, "redis": redis}
    overall: Status = "ok" if all(v == "ok" for v in checks.values()) else "error"
    return Health(status=overall, version=API_VERSION, checks=checks)
