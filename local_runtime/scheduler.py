"""Drive cron functions the way EventBridge Scheduler does, from serverless.yml's ``schedule`` events.

Only ``rate(N unit)`` expressions run locally (the first run one period after start);
``cron(...)`` expressions are read but not fired.
"""

from __future__ import annotations

import re
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from local_runtime.aws import REGION

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
ACCOUNT = "123456789012"


@dataclass(frozen=True)
class Schedule:
    """One ``schedule`` event of one function."""

    function: str
    expression: str
    rule: str

    @property
    def every_seconds(self) -> int | None:
        """The period of a ``rate()`` expression, None for ``cron()``."""
        found = _RATE.match(self.expression.strip())
        return int(found.group(1)) * _SECONDS[found.group(2).rstrip("s")] if found else None


def schedules(config: dict[str, Any]) -> list[Schedule]:
    """Every ``schedule`` event in serverless.yml (string or ``{rate: ...}`` form)."""
    found = []
    for name, fn in (config.get("functions") or {}).items():
        for index, event in enumerate(fn.get("events") or []):
            value = event.get("schedule") if isinstance(event, dict) else None
            if isinstance(value, dict):
                value = value.get("rate")
            for expression in value if isinstance(value, list) else [value] if value else []:
                found.append(Schedule(name, str(expression), f"{name}-schedule-{index}"))
    return found


def scheduled_event(schedule: Schedule, now: datetime | None = None) -> dict[str, Any]:
    """The event EventBridge delivers for a scheduled rule."""
    moment = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": moment,
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{schedule.rule}"],
        "detail": {},
    }


class Scheduler:
    """A background thread firing each ``rate()`` schedule at its period until stopped."""

    def __init__(self, items: list[Schedule], invoke: Callable[[str, dict[str, Any]], Any]) -> None:
        self._items = [s for s in items if s.every_seconds]
        self._invoke = invoke
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)

    def start(self) -> Scheduler:
        self._thread.start()
        return self

    def _run(self) -> None:
        start = time.monotonic()
        next_run = {s.rule: start + float(s.every_seconds or 0) for s in self._items}
        while not self._stop.wait(timeout=1.0):
            now = time.monotonic()
            for item in self._items:
                if now >= next_run[item.rule]:
                    next_run[item.rule] = now + float(item.every_seconds or 0)
                    self._fire(item)

    def _fire(self, item: Schedule) -> None:
        try:
            self._invoke(item.function, scheduled_event(item))
        except Exception:
            traceback.print_exc()  # a failed run is retried at the next period, as EventBridge would

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
