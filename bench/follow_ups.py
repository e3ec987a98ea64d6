"""``python -m bench.follow_ups``: the follow-up cron's throughput, its due-rows query at 1M rows, the simulation.

1. Claim-and-enqueue: 10,000 due follow-ups claimed as the cron does (``shared.followups.service.claim``,
   batches of 500 with ``FOR UPDATE SKIP LOCKED``), then 1,000 of them sent to the turn queue (moto's
   SQS FIFO on loopback, in this process: it slows as its queue grows, real SQS does not, so the
   enqueue rate here is moto's), in follow-ups per second.
2. The due-rows query with 1,000,000 scheduled rows (1% due): its ``EXPLAIN (ANALYZE, BUFFERS)``,
   which must use ``follow_ups_due_idx``.
3. The simulation (``bench/follow_up_sim.py``) at full size: 10,000 leads over 7 simulated days.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from bench.follow_up_sim import simulate

# The due-rows part of shared/followups/store.py's CLAIM, as the planner sees it.
DUE_QUERY = """
    select f.id from public.follow_ups f
    where f.status = 'scheduled' and f.due_at <= %(now)s
    order by f.due_at limit 500 for update skip locked
"""


def _tenant(conn: psycopg.Connection[Any], conversations: int) -> uuid.UUID:
    """An organization whose agent has follow-ups off (the planner finds nothing) and ``conversations`` leads."""
    org, agent = uuid.uuid4(), uuid.uuid4()
    conn.execute("insert into public.organizations (id, name, slug) values (%s, 'Bench', %s)", (org, f"b-{org.hex}"))
    conn.execute("insert into public.agents (id, organization_id, name) values (%s, %s, 'B')", (agent, org))
    conn.execute(
        "insert into public.agent_versions (organization_id, agent_id, version, config) values (%s, %s, 1, %s)",
        (org, agent, json.dumps({"persona": "Bench"})),
    )
    conn.execute(
        "with l as (insert into public.leads (organization_id) select %s from generate_series(1, %s) returning id)"
        " insert into public.conversations (organization_id, agent_id, agent_version, lead_id, channel)"
        " select %s, %s, 1, l.id, 'web' from l",
        (org, conversations, org, agent),
    )
    return org


def _schedule(conn: psycopg.Connection[Any], org: uuid.UUID, per_conversation: int, due_share: float) -> None:
    """``per_conversation`` steps for each conversation (distinct silences), ``due_share`` of them due now."""
    conn.execute(
        "insert into public.follow_ups (organization_id, conversation_id, lead_id, step, anchor_at, due_at, time_zone)"
        " select c.organization_id, c.id, c.lead_id, 0, now() - make_interval(days => g),"
        "        case when random() < %s then now() - interval '1 minute'"
        "             else now() + make_interval(mins => 1 + (random() * 100000)::int) end, 'UTC'"
        " from public.conversations c cross join generate_series(1, %s) g where c.organization_id = %s",
        (due_share, per_conversation, org),
    )


def throughput(database_url: str, due: int, enqueue: int, drain: Any) -> dict[str, Any]:
    """Claim ``due`` due follow-ups in batches of 500 (the cron's SQL), then enqueue ``enqueue`` of them to SQS."""
    from shared.followups.service import claim
    from shared.jobs import enqueue_many

    with psycopg.connect(database_url, autocommit=True) as conn:
        org = _tenant(conn, due)
        _schedule(conn, org, 1, 1.0)
        conn.execute("analyze public.follow_ups")
    loop = asyncio.new_event_loop()
    jobs: list[Any] = []
    try:
        now = datetime.now(UTC)
        started = time.perf_counter()
        while batch := loop.run_until_complete(claim(now, 500)):
            jobs.extend(batch)
        claim_s = time.perf_counter() - started
        with drain:
            started = time.perf_counter()
            sent = loop.run_until_complete(enqueue_many(jobs[:enqueue]))
            enqueue_s = time.perf_counter() - started
    finally:
        from shared.lifecycle import close_clients

        loop.run_until_complete(close_clients())
        loop.close()
    with psycopg.connect(database_url, autocommit=True) as conn:  # the simulation claims nothing of these
        conn.execute("delete from public.organizations where id = %s", (org,))
    return {"claimed": len(jobs), "claim_s": claim_s, "enqueued": len(sent), "enqueue_s": enqueue_s}


def explain(database_url: str, rows: int = 1_000_000) -> tuple[str, float]:
    """The due-rows query's plan over ``rows`` scheduled follow-ups (1% due), and its execution time in ms."""
    with psycopg.connect(database_url) as conn:
        org = _tenant(conn, rows // 100)
        _schedule(conn, org, 100, 0.01)
        conn.commit()
        conn.execute("analyze public.follow_ups")
        plan = conn.execute(
            "explain (analyze, buffers, costs off, timing on) " + DUE_QUERY, {"now": datetime.now(UTC)}
        ).fetchall()
        conn.rollback()
        conn.execute("delete from public.organizations where id = %s", (org,))  # its rows go with it
        conn.commit()
    text = "\n".join(str(r[0]) for r in plan)
    ms = next((float(line.split(":")[1].split()[0]) for line in text.splitlines() if "Execution Time" in line), 0.0)
    return text, ms


def planner(database_url: str, conversations: int) -> dict[str, Any]:
    """One cron's planning pass over ``conversations`` bot conversations active in the last 30 days, every
    silence already planned (the steady state: nothing new to plan), after a first pass; with its plan."""
    from shared.followups import store
    from shared.followups.service import plan

    with psycopg.connect(database_url, autocommit=True) as conn:
        org = _tenant(conn, conversations)
        conn.execute(
            "update public.agent_versions v set config = config || %s::jsonb where v.organization_id = %s",
            (json.dumps({"follow_up": {"enabled": True}}), org),
        )
        conn.execute(  # activity spread over the last 30 days; the lead wrote last, the bot answered
            "with c as (update public.conversations c set last_message_at = now() - random() * interval '30 days'"
            " where c.organization_id = %s returning c.id, c.lead_id, c.last_message_at)"
            " , m as (insert into public.messages (organization_id, conversation_id, role, content, status,"
            " created_at, handled_at) select %s, c.id, 'lead', 'oi', 'read', c.last_message_at, c.last_message_at"
            " from c)"
            " insert into public.follow_ups (organization_id, conversation_id, lead_id, step, anchor_at, due_at,"
            " time_zone, status, reason, finished_at) select %s, c.id, c.lead_id, 0, c.last_message_at,"
            " c.last_message_at, 'UTC', 'sent', null, c.last_message_at from c",
            (org, org, org),
        )
        conn.execute("analyze public.conversations")
        conn.execute("analyze public.messages")
        conn.execute("analyze public.follow_ups")
    loop = asyncio.new_event_loop()
    try:
        now = datetime.now(UTC)
        first = time.perf_counter()
        loop.run_until_complete(plan(now))
        first_s = time.perf_counter() - first
        later = now + timedelta(minutes=1)
        started = time.perf_counter()
        planned = loop.run_until_complete(plan(later))
        pass_s = time.perf_counter() - started
        since = loop.run_until_complete(_since(later))
    finally:
        from shared.lifecycle import close_clients

        loop.run_until_complete(close_clients())
        loop.close()
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "explain (analyze, buffers, costs off, timing on) " + store.CANDIDATES, {"since": since, "limit": 500}
        ).fetchall()
        conn.rollback()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("delete from public.organizations where id = %s", (org,))
    text = "\n".join(str(r[0]) for r in rows)
    return {"conversations": conversations, "planned": planned, "first_s": first_s, "pass_s": pass_s, "plan": text}


async def _since(now: datetime) -> datetime:
    from shared.db import service_session
    from shared.followups import service

    async with service_session() as db:
        return await service.planned_since(db, now)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.follow_ups")
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--enqueue", type=int, default=1_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--active", type=int, default=20_000, help="planned conversations the planner passes over")
    args = parser.parse_args()
    from bench.__main__ import QueueDrain
    from local_runtime.aws import start_aws
    from local_runtime.cli import services
    from local_runtime.gateway.routes import load_serverless

    with tempfile.TemporaryDirectory(prefix="ca-bench-") as tmp, services(Path(tmp), port=0) as runtime:
        aws = start_aws(load_serverless(), visibility_timeout=30, delay_seconds=0)
        try:
            from local_runtime.aws import referenced_environment

            env = {
                **runtime.environment(),
                **aws.environment(),
                **referenced_environment(load_serverless(), aws.queues),
            }
            os.environ.update({**env, "POWERTOOLS_LOG_LEVEL": "WARNING", "APP_ENV": "test"})
            with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
                drain = QueueDrain(aws.endpoint, aws.queues["TurnQueue"].url)
                cron = throughput(runtime.database_url, args.due, args.enqueue, drain)
                plan, ms = explain(runtime.database_url, args.rows)
                planning = planner(runtime.database_url, args.active) if args.active else None
                report = simulate(runtime.database_url, leads=args.leads) if args.leads else None
        finally:
            aws.stop()
    claim_rate = cron["claimed"] / cron["claim_s"] if cron["claim_s"] else 0.0
    send_rate = cron["enqueued"] / cron["enqueue_s"] if cron["enqueue_s"] else 0.0
    print("| measure | value |\n|---|---|")
    print(
        f"| claim {cron['claimed']} due follow-ups (batches of 500, SKIP LOCKED) | {cron['claim_s']:.2f} s,"
        f" {claim_rate:.0f}/s |"
    )
    print(
        f"| enqueue {cron['enqueued']} of them to moto's SQS FIFO (SendMessageBatch, 4 lanes)"
        f" | {cron['enqueue_s']:.2f} s,"
        f" {send_rate:.0f}/s |"
    )
    print(f"| due-rows query at {args.rows:,} scheduled rows (1% due), 500 rows | {ms:.2f} ms |")
    print(f"| uses follow_ups_due_idx | {'yes' if 'follow_ups_due_idx' in plan else 'NO'} |")
    if planning is not None:
        print(
            f"| planning pass over {planning['conversations']:,} bot conversations active in 30 days, all planned"
            f" (first pass {planning['first_s']:.2f} s) | {planning['pass_s'] * 1000:.0f} ms,"
            f" {planning['planned']} planned |"
        )
    print("\n```\n" + plan + "\n```")
    if planning is not None:
        print("\nThe planner's candidates query, steady state:\n\n```\n" + planning["plan"] + "\n```")
    if report is not None:
        print()
        print("\n".join(report.lines()))


if __name__ == "__main__":
    main()
