"""Refresh the per-conversation analytics rollup (the refreshAnalytics cron; service path)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from shared.db import service_call


@dataclass(frozen=True)
class RefreshResult:
    """How many rollup rows one refresh recomputed, and how long it took."""

    conversations: int
    seconds: float


async def refresh(full: bool = False) -> RefreshResult:
    """Recompute every conversation touched since the last run (``full``: all of them), in one statement."""
    started = time.perf_counter()
    row = await service_call("select app.refresh_analytics(%s) as n", (full,))
    return RefreshResult(int(row["n"]) if row else 0, round(time.perf_counter() - started, 3))
