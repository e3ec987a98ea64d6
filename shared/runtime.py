"""The container's event loop for non-HTTP handlers (queue workers, crons).

Mangum runs HTTP functions on the thread's current loop; workers use the same one, so
the per-container clients (database, Redis, HTTP) live as long as the container.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def container_loop() -> asyncio.AbstractEventLoop:
    """The thread's current loop, created once if there is none (as Mangum does)."""
    try:
        with warnings.catch_warnings():
            # 3.12+ warns when there is no current loop; creating one is exactly what we want then.
            warnings.simplefilter("ignore", DeprecationWarning)
            loop: asyncio.AbstractEventLoop | None = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        loop = None
    if loop is None or loop.is_closed():
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
    return loop


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on the container's loop."""
    return container_loop().run_until_complete(coro)
