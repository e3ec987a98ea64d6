"""Function "containers": each function lives in its own thread with its own event loop.

That mirrors Lambda, where each function runs in its own container and handles one
event at a time, and keeps per-container clients (one DB connection each) apart.
"""

from __future__ import annotations

import asyncio
import importlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from local_runtime.gateway.routes import FunctionSpec
from local_runtime.lambda_context import LocalLambdaContext

Handler = Callable[[dict[str, Any], Any], Any]


class FunctionContainer:
    """A warm container for one function: its module is imported once, on first use."""

    def __init__(self, spec: FunctionSpec) -> None:
        self.spec = spec
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"fn-{spec.name}")
        self._handler: Handler | None = None
        self._module: Any = None

    def _load(self) -> Handler:
        if self._handler is None:
            if threading.current_thread() is not threading.main_thread():
                asyncio.set_event_loop(asyncio.new_event_loop())
            self._module = importlib.import_module(self.spec.module)
            self._handler = getattr(self._module, self.spec.attribute)
        return self._handler

    def _invoke(self, event: dict[str, Any]) -> Any:
        return self._load()(event, LocalLambdaContext(self.spec.name))

    async def invoke(self, event: dict[str, Any]) -> Any:
        """Run the handler on ``event`` in this container's thread."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._invoke, event)

    def invoke_sync(self, event: dict[str, Any]) -> Any:
        """Run the handler on ``event`` from a non-async caller (queue pollers, the scheduler)."""
        return self._executor.submit(self._invoke, event).result()

    async def module(self) -> Any:
        """The imported handler module (importing it in the container's thread)."""
        await asyncio.get_running_loop().run_in_executor(self._executor, self._load)
        return self._module

    def _shutdown(self) -> None:
        if self._handler is None:
            return
        retire_loop(asyncio.get_event_loop())

    def close(self) -> None:
        """Close the container's clients, as Lambda does when it retires a container, then its thread."""
        self._executor.submit(self._shutdown).result(timeout=10)
        self._executor.shutdown(wait=True, cancel_futures=True)


class Containers:
    """One container per function, created on first invocation."""

    def __init__(self, specs: list[FunctionSpec]) -> None:
        self._specs = {spec.name: spec for spec in specs}
        self._containers: dict[str, FunctionContainer] = {}

    def get(self, name: str) -> FunctionContainer:
        """The container of function ``name``."""
        if name not in self._containers:
            self._containers[name] = FunctionContainer(self._specs[name])
        return self._containers[name]

    def close(self) -> None:
        """Stop every container."""
        for container in self._containers.values():
            container.close()


def retire_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Retire a container's loop, as Lambda retires the container: close its clients, then end it as
    ``asyncio.run`` ends a loop. What still runs on it (litellm's logging worker, when another container's
    loop owns the process-wide worker) is cancelled and awaited, never left unawaited."""
    from shared.lifecycle import close_clients

    loop.run_until_complete(close_clients())
    loop.run_until_complete(_cancel_the_rest())
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()


async def _cancel_the_rest() -> None:
    rest = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in rest:
        task.cancel()
    await asyncio.gather(*rest, return_exceptions=True)
