"""Cache one client per event loop.

In Lambda a container has exactly one loop (Mangum reuses it), so this is one client
per container. The local gateway runs each function in its own thread and loop,
just as each Lambda runs in its own container, and this keeps them apart.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerLoop(Generic[T]):
    """Holds at most one ``T`` per running event loop, built on first use."""

    def __init__(self, build: Callable[[], Awaitable[T]]) -> None:
        self._build = build
        self._items: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T] = weakref.WeakKeyDictionary()

    async def get(self) -> T:
        """Return this loop's instance, building it the first time."""
        loop = asyncio.get_running_loop()
        item = self._items.get(loop)
        if item is None:
            item = await self._build()
            self._items[loop] = item
        return item

    def peek(self) -> T | None:
        """This loop's instance, if one was built."""
        return self._items.get(asyncio.get_running_loop())

    def forget(self) -> None:
        """Drop this loop's instance so the next ``get`` builds a fresh one."""
        self._items.pop(asyncio.get_running_loop(), None)
