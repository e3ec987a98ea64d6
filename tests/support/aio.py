"""One event loop for the whole test session, like the one loop of a Lambda container.

Mangum runs every invocation on the thread's current loop; tests that drive shared
code directly use the same loop, so per-container clients are shared and closed once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
LOOP = asyncio.new_event_loop()


def use_container_loop() -> asyncio.AbstractEventLoop:
    """Make the session loop current on this thread (``asyncio.run`` elsewhere unsets it)."""
    asyncio.set_event_loop(LOOP)
    return LOOP


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on the session loop."""
    return use_container_loop().run_until_complete(coro)


def close_container_clients() -> None:
    """Close the DB connection and Redis client held by the session loop, then the loop."""
    from local_runtime.containers import retire_loop

    if LOOP.is_closed():
        return
    use_container_loop()
    retire_loop(LOOP)
