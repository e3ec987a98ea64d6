"""The follow-up cron and worker: plan first steps, claim due ones onto the turn queue, run one under its lock.

Every function takes ``now`` so a test drives the clock. Never twice: a step is unique per silence
(``follow_ups_step_key``), claimed with ``FOR UPDATE SKIP LOCKED``, and finished in the same
transaction that writes its message, under the conversation's row lock; a redelivered job finds
it finished. Never after a stop rule: the worker re-reads everything under that lock first.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from shared.agents.config import FollowUp, whatsapp_template
from shared.db import Session, service_session
from shared.followups import store
from shared.followups.calendar import lead_time_zone
from shared.followups.rules import Decision, Send, Skip, Snapshot, Stop, Wait, decide, due_at
from shared.jobs import FollowUpJob, Queued, SendJob, TurnJob, enqueue_many, submit
from shared.observability import logger, metrics

BATCH_SIZE = 500
LOOKBACK = timedelta(days=30)  # silences older than this are not followed up any more
# A pass looks this far behind the last complete one: a silence whose lead message was still being
# answered then (a slow or retried turn) is planned by a later pass. Far above a turn's timeout.
GRACE = timedelta(hours=1)
MAX_PLAN_BATCHES = 20  # a cron run plans at most this many batches; the next run goes on
STALE_CLAIM = timedelta(minutes=15)  # a claim this old lost its job (longer than a worker's timeout)


@dataclass
class CronResult:
    """What one cron run did."""

    planned: int = 0
    claimed: int = 0
    enqueued: int = 0
    duration_ms: int = 0


@dataclass
class Outcome:
    """What the worker did with one follow-up: ``sent``, ``skipped``, ``stopped``, ``waiting`` or ``done``."""

    status: str
    reason: str | None = None
    kind: str | None = None
    message_id: uuid.UUID | None = None
    jobs: list[Queued] = field(default_factory=list)


def _policy(config: dict[str, Any]) -> FollowUp:
    """The version's follow-up policy; one that no longer validates is no policy (its steps stop)."""
    try:
        return FollowUp.model_validate(config.get("follow_up") or {})
    except ValidationError:
        return FollowUp()


async def planned_since(db: Session, now: datetime) -> datetime:
    """Activity before this was considered by an earlier complete pass (the watermark, less ``GRACE``)."""
    mark = await db.one(store.WATERMARK)
    floor = now - LOOKBACK
    return floor if mark is None else max(floor, min(mark["at"], now) - GRACE)


async def plan(now: datetime, limit: int = BATCH_SIZE) -> int:
    """Schedule the first step of every new silence; a silence after a reply restarts only where the policy says so.

    Batches of ``limit`` candidates, oldest activity first, until one comes up short: then the pass is
    complete and the watermark moves to ``now``. Returns how many steps it recorded.
    """
    planned = 0
    for _ in range(MAX_PLAN_BATCHES):
        candidates, steps = await _plan_batch(now, limit)
        planned += steps
        if candidates < limit:
            break
    return planned


async def _plan_batch(now: datetime, limit: int) -> tuple[int, int]:
    steps: list[dict[str, Any]] = []
    async with service_session() as db:
        rows = await db.all(store.CANDIDATES, {"since": await planned_since(db, now), "limit": limit})
        for row in rows:
            policy = FollowUp.model_validate(row["policy"])
            zone = lead_time_zone(row["phone"], row["org_zone"])
            base = {
                "organization_id": str(row["organization_id"]),
                "conversation_id": str(row["conversation_id"]),
                "lead_id": str(row["lead_id"]),
                "step": 0,
                "anchor_at": row["anchor_at"].isoformat(),
                "time_zone": zone,
            }
            when = due_at(policy, 0, row["anchor_at"], zone, now)
            if row["had_sequence"] and not policy.restart_on_reply:
                # Recorded once, so this silence is not considered again.
                steps.append(
                    {
                        **base,
                        "due_at": now.isoformat(),
                        "status": "stopped",
                        "reason": "lead_replied",
                        "finished_at": now.isoformat(),
                    }
                )
            elif when is not None and row["paused"]:
                steps.append({**base, "due_at": when.isoformat(), "status": "paused", "reason": "paused"})
            elif when is not None:
                steps.append({**base, "due_at": when.isoformat(), "status": "scheduled"})
        if steps:
            await db.execute(store.INSERT_STEPS, {"steps": json.dumps(steps), "now": now})
        if len(rows) < limit:
            await db.execute(store.ADVANCE_WATERMARK, {"now": now})
    return len(rows), len(steps)


async def claim(now: datetime, limit: int = BATCH_SIZE) -> list[Queued]:
    """Claim up to ``limit`` due steps (SKIP LOCKED: concurrent crons split them) as jobs for the turn queue."""
    async with service_session() as db:
        rows = await db.all(store.CLAIM, {"now": now, "stale": now - STALE_CLAIM, "limit": limit})
    return [
        Queued(r["conversation_id"], FollowUpJob(follow_up_id=r["id"]), f"followup:{r['id']}:{r['claims']}")
        for r in rows
    ]


async def run_cron(now: datetime | None = None, limit: int = BATCH_SIZE) -> CronResult:
    """One cron run: plan new silences, then claim due steps in batches onto their conversation's group."""
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    result = CronResult(planned=await plan(now, limit))
    while True:
        batch = await claim(now, limit)
        result.claimed += len(batch)
        result.enqueued += len(await enqueue_many(batch))
        if len(batch) < limit:
            break
    result.duration_ms = int((time.perf_counter() - started) * 1000)
    metrics.add_metric(name="FollowUpsPlanned", unit="Count", value=result.planned)
    metrics.add_metric(name="FollowUpsClaimed", unit="Count", value=result.claimed)
    metrics.add_metric(name="FollowUpCronDuration", unit="Milliseconds", value=result.duration_ms)
    return result


async def apply_follow_up(follow_up_id: uuid.UUID, now: datetime) -> Outcome:
    """Decide and record one claimed step in one transaction, under the conversation's row lock (nothing enqueued)."""
    async with service_session() as db:
        return await _apply(db, follow_up_id, now)


async def run_follow_up(follow_up_id: uuid.UUID, now: datetime | None = None) -> Outcome:
    """Decide and apply one claimed step under the conversation's row lock, then hand its send to the queue."""
    outcome = await apply_follow_up(follow_up_id, now or datetime.now(UTC))
    if outcome.jobs:
        await submit(outcome.jobs)
    if outcome.status in ("sent", "skipped", "stopped"):
        name = {"sent": "FollowUpsSent", "skipped": "FollowUpsSkipped", "stopped": "FollowUpsStopped"}[outcome.status]
        metrics.add_metric(name=name, unit="Count", value=1)
        if outcome.reason:
            metrics.add_metric(name=f"{name}.{outcome.reason}", unit="Count", value=1)
    logger.info("follow-up handled", extra={"status": outcome.status, "reason": outcome.reason, "kind": outcome.kind})
    return outcome


async def _apply(db: Session, follow_up_id: uuid.UUID, now: datetime) -> Outcome:
    conv = await db.one(store.LOCK, {"id": follow_up_id, "now": now})
    if conv is None:
        return Outcome("done")
    config = conv["config"] if isinstance(conv["config"], dict) else {}
    policy = _policy(config)
    row = await db.one(store.STATE, {"id": follow_up_id, "period_start": now - timedelta(days=policy.period_days)})
    if row is None or row["status"] != "claimed":
        return Outcome("done")  # finished already: a redelivered job, or a concurrent worker
    snap = Snapshot(
        step=row["step"],
        anchor_at=row["anchor_at"],
        zone=row["time_zone"],
        policy=policy,
        channel=conv["channel"],
        conversation_status=conv["conversation_status"],
        paused=conv["paused"],
        consent=row["consent"],
        stage=row["stage"],
        last_lead_at=row["last_lead_at"],
        window_open=conv["window_open"],
        has_template=bool(whatsapp_template(config.get("whatsapp"))),
        budget_left=row["budget_left"],
        sent_in_period=int(row["sent_in_period"]),
    )
    decision: Decision = decide(snap, now)
    base = {"id": follow_up_id, "now": now, "kind": None, "message_id": None}
    if isinstance(decision, Wait):
        await db.execute(store.RESCHEDULE, {"id": follow_up_id, "due": decision.until})
        return Outcome("waiting")
    if isinstance(decision, Stop):
        await db.execute(store.FINISH, {**base, "status": "stopped", "reason": decision.reason})
        return Outcome("stopped", decision.reason)
    if isinstance(decision, Skip):
        await db.execute(store.FINISH, {**base, "status": "skipped", "reason": decision.reason})
        await _next_step(db, conv, row, policy, now)
        return Outcome("skipped", decision.reason)
    assert isinstance(decision, Send)
    message_id, job = await _write(db, conv, row, decision, now)
    await db.execute(
        store.FINISH, {**base, "status": "sent", "reason": None, "kind": decision.kind, "message_id": message_id}
    )
    await _next_step(db, conv, row, policy, now)
    return Outcome("sent", None, decision.kind, message_id, [job] if job else [])


async def _write(
    db: Session, conv: dict[str, Any], row: dict[str, Any], decision: Send, now: datetime
) -> tuple[uuid.UUID, Queued | None]:
    """Store the step's message: the text (or the template's) to send, or the instruction a model turn answers."""
    step = decision.step
    payload = json.dumps({"follow_up": {"id": str(row["id"]), "step": row["step"], "kind": decision.kind}})
    whatsapp = conv["channel"] == "whatsapp"
    if decision.kind == "model":
        values = {
            "role": "system",
            "content": step.instruction or "Follow up with the lead who went quiet.",
            "status": "sent",
        }
    else:
        values = {
            "role": "assistant",
            "content": step.text or step.instruction,
            "status": "queued" if whatsapp else "sent",
        }
    inserted = await db.one(
        store.INSERT_MESSAGE,
        {
            **values,
            "org": conv["organization_id"],
            "conversation": conv["conversation_id"],
            "payload": payload,
            "now": now,
        },
    )
    assert inserted is not None
    message_id = uuid.UUID(str(inserted["id"]))
    if decision.kind == "model":
        job = TurnJob(message_id=message_id, instruction=str(values["content"]))
        return message_id, Queued(conv["conversation_id"], job)
    return message_id, Queued(conv["conversation_id"], SendJob(message_id=message_id)) if whatsapp else None


async def _next_step(db: Session, conv: dict[str, Any], row: dict[str, Any], policy: FollowUp, now: datetime) -> None:
    step = row["step"] + 1
    when = due_at(policy, step, row["anchor_at"], row["time_zone"], now, previous_at=now)
    if when is None:
        return
    nxt = {
        "organization_id": str(conv["organization_id"]),
        "conversation_id": str(conv["conversation_id"]),
        "lead_id": str(row["lead_id"]),
        "step": step,
        "anchor_at": row["anchor_at"].isoformat(),
        "due_at": when.isoformat(),
        "time_zone": row["time_zone"],
        "status": "scheduled",
    }
    await db.execute(store.INSERT_STEPS, {"steps": json.dumps([nxt]), "now": now})
