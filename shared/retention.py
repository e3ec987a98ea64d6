"""Retention: purge finished rows past their period (``app.retention_periods``), in bounded batches. Crons only."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from shared.db import service_call
from shared.observability import metrics

BATCH_SIZE = 5000
MAX_BATCHES = 20  # per run: a backlog is worked off over several hourly runs, never in one long transaction


async def purge(now: datetime | None = None) -> dict[str, int]:
    """Delete what is older than its retention period; the rows removed per kind."""
    started = time.perf_counter()
    moment = now or datetime.now(UTC)
    totals: dict[str, int] = {}
    for _ in range(MAX_BATCHES):
        row = await service_call("select app.purge_expired(%s, %s) as purged", (moment, BATCH_SIZE))
        purged = {k: int(v) for k, v in ((row or {}).get("purged") or {}).items()}
        for kind, count in purged.items():
            totals[kind] = totals.get(kind, 0) + count
        if max(purged.values(), default=0) < BATCH_SIZE:
            break
    for kind, count in totals.items():
        metrics.add_metric(name=f"Purged.{kind}", unit="Count", value=count)
    metrics.add_metric(name="RetentionDuration", unit="Milliseconds", value=int((time.perf_counter() - started) * 1000))
    return totals
