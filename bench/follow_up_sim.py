"""A follow-up simulation on a controllable clock: leads across organizations, zones and channels, over days.

The real planning, claiming and worker code (``shared.followups.service``: ``plan``, ``claim``,
``apply_follow_up``) runs on real Postgres with ``now`` handed in; nothing sleeps. Claimed jobs run on
``WORKERS`` concurrent workers, as Lambda runs the turn queue's groups; a model-written step's turn is
not run (tests/integration/worker/test_follow_ups.py runs those). The clock jumps
from one cron tick (a whole minute) to the next at which something happens: a lead's event, or a
step falling due. Between those ticks a cron run would find nothing, so skipping them changes nothing.

Lead events (replies, opt-outs, takeovers, conversions and losses, closes) are drawn at random up
front; the checks recompute, from those events alone and an independent calendar, whether each
send broke a rule: a stop condition, quiet hours, a duplicate step, free text on WhatsApp outside
the 24-hour window, or lateness beyond one cron period. Used by the CI test (small) and the bench
(10,000 leads).
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import psycopg

from shared.followups import service

CRON = timedelta(minutes=1)
WORKERS = 4  # worker invocations running claimed jobs at once
T = TypeVar("T")
R = TypeVar("R")
STEPS = [60, 1440, 4320]  # after 1 h, 24 h and 72 h of silence
EVENT_GRAIN_MINUTES = 10
# (organization zone, approved template, restart on reply, max follow-ups per lead per 7 days)
ORGS = [
    ("America/Sao_Paulo", True, True, 3),
    ("America/New_York", True, True, 2),
    ("Asia/Tokyo", False, False, 3),
]
# Phone prefixes whose zone phonenumbers knows (one zone each), one per organization zone.
PHONES = {"America/Sao_Paulo": 5511987000000, "America/New_York": 12125550000, "Asia/Tokyo": 819012340000}
STOPS = ("opt_out", "takeover", "conversion", "loss", "close")
# The second organization's budget runs out this far into the run: its later steps stop (budget_exhausted).
BUDGET_ORG, BUDGET_OUT_AT = 1, 0.85


@dataclass
class Lead:
    """One simulated lead, its conversation and what it will do."""

    org: int
    channel: str
    zone: str
    phone: str | None
    lead_id: uuid.UUID = field(default_factory=uuid.uuid4)
    conversation_id: uuid.UUID = field(default_factory=uuid.uuid4)
    replies: list[datetime] = field(default_factory=list)
    stops: dict[str, datetime] = field(default_factory=dict)
    budget_out: datetime | None = None  # when the lead's organization's budget runs out


@dataclass
class Report:
    """What the simulation did and every violation it found (each must be 0)."""

    leads: int
    days: int
    workers: int = 1
    ticks: int = 0
    seconds: float = 0.0
    sent: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    stopped: Counter[str] = field(default_factory=Counter)
    violations: Counter[str] = field(default_factory=Counter)
    max_lateness_s: float = 0.0
    on_time_checked: int = 0
    examples: list[str] = field(default_factory=list)

    def violation(self, name: str, detail: str) -> None:
        self.violations[name] += 1
        if len(self.examples) < 10:
            self.examples.append(f"{name}: {detail}")

    def lines(self) -> list[str]:
        """Markdown rows: the figures, then the violations."""
        rows = [
            "| figure | value |",
            "|---|---|",
            f"| leads (3 organizations, 3 zones, web + WhatsApp) | {self.leads} |",
            f"| simulated days / cron ticks run | {self.days} / {self.ticks} |",
            f"| wall time s ({self.workers} concurrent workers) | {self.seconds:.1f} |",
            f"| sent (by kind) | {sum(self.sent.values())} {dict(sorted(self.sent.items()))} |",
            f"| skipped (by reason) | {sum(self.skipped.values())} {dict(sorted(self.skipped.items()))} |",
            f"| stopped (by reason) | {sum(self.stopped.values())} {dict(sorted(self.stopped.items()))} |",
            f"| sends checked for timeliness / max lateness s | {self.on_time_checked} / {self.max_lateness_s:.0f} |",
        ]
        for name in VIOLATIONS:
            rows.append(f"| violations: {name} | {self.violations[name]} |")
        return rows


VIOLATIONS = (
    "sent after a stop condition",
    "sent inside quiet hours",
    "duplicate step",
    "free-form WhatsApp outside the window",
    "late (more than one cron period after due)",
    "due but never sent",
    "stopped or skipped without a rule",
)


def _quiet(moment: datetime, zone: str) -> bool:
    """Independent of shared.followups.calendar: 21:00-08:00 and weekends are quiet."""
    local = moment.astimezone(ZoneInfo(zone))
    return local.isoweekday() > 5 or local.hour >= 21 or local.hour < 8


def _ideal(moment: datetime, zone: str) -> datetime:
    """The first allowed whole minute at or after ``moment`` (independent of the code under test)."""
    if moment.second or moment.microsecond:
        moment = moment.replace(second=0, microsecond=0) + CRON
    local = moment.astimezone(ZoneInfo(zone))
    while local.isoweekday() > 5 or local.hour >= 21 or local.hour < 8:
        if local.isoweekday() > 5 or local.hour >= 21:
            local = (local + timedelta(days=1)).replace(hour=8, minute=0)
        else:
            local = local.replace(hour=8, minute=0)
    return local.astimezone(UTC)


def _ceil(moment: datetime) -> datetime:
    floor = moment.replace(second=0, microsecond=0)
    return floor if floor == moment else floor + CRON


def _config(org: int) -> dict[str, Any]:
    _, template, restart, max_per = ORGS[org]
    steps: list[dict[str, Any]] = [
        {"after_minutes": m, "kind": "text", "text": f"Follow-up {i + 1}"} for i, m in enumerate(STEPS)
    ]
    if org == len(ORGS) - 1:  # the last organization's second step is model-written (a turn, not run here)
        steps[1] = {"after_minutes": STEPS[1], "kind": "model", "instruction": "Nudge the lead about the visit."}
    config: dict[str, Any] = {
        "persona": "Sim SDR",
        "follow_up": {
            "enabled": True,
            "steps": steps,
            "restart_on_reply": restart,
            "quiet_hours": {"start": "21:00", "end": "08:00"},
            "business_days": [1, 2, 3, 4, 5],
            "max_per_period": max_per,
            "period_days": 7,
        },
    }
    if template:
        config["whatsapp"] = {"template": {"name": "retomada", "language": "pt_BR"}}
    return config


def draw_leads(n: int, start: datetime, days: int, rng: random.Random) -> list[Lead]:
    """``n`` leads spread over the organizations, zones and channels, with random events."""
    leads = []
    zones = [z for z, *_ in ORGS]
    span = days * 24 * 60 // EVENT_GRAIN_MINUTES
    for i in range(n):
        org = i % len(ORGS)
        channel = "whatsapp" if rng.random() < 0.5 else "web"
        zone = rng.choice(zones) if channel == "whatsapp" else ORGS[org][0]
        phone = f"+{PHONES[zone] + i}" if channel == "whatsapp" else None
        lead = Lead(org, channel, zone, phone)
        if org == BUDGET_ORG:
            lead.budget_out = _ceil(start + timedelta(days=days) * BUDGET_OUT_AT)
        for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
            lead.replies.append(start + timedelta(minutes=EVENT_GRAIN_MINUTES * rng.randint(1, span)))
        lead.replies = sorted(set(lead.replies))
        if rng.random() < 0.35:
            kind = rng.choice(STOPS)
            lead.stops[kind] = start + timedelta(minutes=EVENT_GRAIN_MINUTES * rng.randint(1, span))
        leads.append(lead)
    return leads


def setup(database_url: str, leads: list[Lead], start: datetime) -> list[uuid.UUID]:
    """Organizations, agents and every lead's conversation, opened by the lead at ``start``."""
    orgs = [uuid.uuid4() for _ in ORGS]
    with psycopg.connect(database_url, autocommit=True) as conn:
        for index, (org, (zone, *_)) in enumerate(zip(orgs, ORGS, strict=True)):
            agent = uuid.uuid5(org, "agent")
            conn.execute(
                "insert into public.organizations (id, name, slug, settings) values (%s, 'Sim', %s, %s)",
                (org, f"sim-{org.hex}", json.dumps({"timezone": zone})),
            )
            conn.execute("insert into public.agents (id, organization_id, name) values (%s, %s, 'S')", (agent, org))
            conn.execute(
                "insert into public.agent_versions (organization_id, agent_id, version, config) values (%s, %s, 1, %s)",
                (org, agent, json.dumps(_config(index))),
            )
            conn.execute(
                "update public.budgets set monthly_limit_usd = 1000000 where organization_id = %s and agent_id is null",
                (org,),
            )
        rows = [(lead, orgs[lead.org]) for lead in leads]
        conn.execute(
            "insert into public.leads (id, organization_id, phone, created_at)"
            " select * from unnest(%s::uuid[], %s::uuid[], %s::text[], %s::timestamptz[])",
            ([r[0].lead_id for r in rows], [r[1] for r in rows], [r[0].phone for r in rows], [start] * len(rows)),
        )
        conn.execute(
            "insert into public.conversations (id, organization_id, agent_id, agent_version, lead_id, channel,"
            " created_at, last_message_at, window_expires_at)"
            " select c, o, a, 1, l, ch::public.channel, %s, %s, case when ch = 'whatsapp' then %s end"
            " from unnest(%s::uuid[], %s::uuid[], %s::uuid[], %s::uuid[], %s::text[]) as t(c, o, a, l, ch)",
            (
                start,
                start,
                start + timedelta(hours=24),
                [r[0].conversation_id for r in rows],
                [r[1] for r in rows],
                [uuid.uuid5(r[1], "agent") for r in rows],
                [r[0].lead_id for r in rows],
                [r[0].channel for r in rows],
            ),
        )
        _replies(conn, [(lead, start) for lead, _ in rows], orgs)
    return orgs


def _replies(conn: psycopg.Connection[Any], replies: list[tuple[Lead, datetime]], orgs: list[uuid.UUID]) -> None:
    """Each lead writes and the bot answers at once; the WhatsApp window reopens for 24 h."""
    if not replies:
        return
    args = (
        [orgs[lead.org] for lead, _ in replies],
        [lead.conversation_id for lead, _ in replies],
        [at for _, at in replies],
    )
    conn.execute(
        "insert into public.messages (organization_id, conversation_id, role, content, status, created_at, handled_at)"
        " select o, c, r::public.message_role, 'oi', 'read', t, t"
        " from unnest(%s::uuid[], %s::uuid[], %s::timestamptz[]) as u(o, c, t), unnest(array['lead', 'assistant']) r",
        args,
    )
    conn.execute(
        "update public.conversations c set last_message_at = u.t,"
        " window_expires_at = case when c.channel = 'whatsapp' then u.t + interval '24 hours' end"
        " from unnest(%s::uuid[], %s::timestamptz[]) as u(id, t) where c.id = u.id",
        (args[1], args[2]),
    )


def _stop(conn: psycopg.Connection[Any], lead: Lead, kind: str, at: datetime) -> None:
    if kind == "opt_out":
        conn.execute("update public.leads set consent = false where id = %s", (lead.lead_id,))
    elif kind in ("conversion", "loss"):
        stage = "converted" if kind == "conversion" else "lost"
        conn.execute("update public.leads set stage = %s where id = %s", (stage, lead.lead_id))
    elif kind == "budget":
        conn.execute(
            "update public.budgets b set monthly_limit_usd = 0 from public.leads l"
            " where l.id = %s and b.organization_id = l.organization_id and b.agent_id is null",
            (lead.lead_id,),
        )
    elif kind == "takeover":
        conn.execute("update public.conversations set status = 'human' where id = %s", (lead.conversation_id,))
    else:
        conn.execute(
            "update public.conversations set status = 'closed', closed_at = %s where id = %s",
            (at, lead.conversation_id),
        )


class Workers:
    """``n`` stand-ins for the turn worker's concurrent invocations: threads with an event loop (so a
    database connection) each. Jobs of different conversations run at once, as on Lambda; two of one
    conversation meet at its row lock."""

    def __init__(self, n: int) -> None:
        self._local = threading.local()
        self._loops: list[asyncio.AbstractEventLoop] = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(n, initializer=self._start)

    def _start(self) -> None:
        loop = asyncio.new_event_loop()
        self._local.loop = loop
        with self._lock:
            self._loops.append(loop)

    def map(self, work: Callable[[T], Coroutine[Any, Any, R]], items: list[T]) -> list[R]:
        """``work`` for every item, each on some worker's loop."""
        return list(self._pool.map(lambda item: self._local.loop.run_until_complete(work(item)), items))

    def close(self) -> None:
        from shared.lifecycle import close_clients

        self._pool.shutdown()
        for loop in self._loops:
            loop.run_until_complete(close_clients())
            loop.close()


def _cron(
    loop: asyncio.AbstractEventLoop,
    workers: Workers,
    now: datetime,
    plan: bool,
    batch: int,
    report: Report,
    mine: set[uuid.UUID],
) -> None:
    """One cron run at ``now`` (plan, then claim in batches), with the claimed jobs run by the workers at once.

    Only the simulation's conversations (``mine``) are counted: a shared database may hold others.
    """
    if plan:
        while loop.run_until_complete(service.plan(now, batch)) >= batch * service.MAX_PLAN_BATCHES:
            pass
    while claimed := loop.run_until_complete(service.claim(now, batch)):
        outcomes = workers.map(lambda job: service.apply_follow_up(job.job.message_id, now), claimed)
        for job, outcome in zip(claimed, outcomes, strict=True):
            if job.conversation_id not in mine:
                continue
            if outcome.status == "sent":
                report.sent[str(outcome.kind)] += 1
            elif outcome.status == "skipped":
                report.skipped[str(outcome.reason)] += 1
            elif outcome.status == "stopped":
                report.stopped[str(outcome.reason)] += 1
        if len(claimed) < batch:
            break


def simulate(
    database_url: str, leads: int, days: int = 7, seed: int = 11, batch: int = 500, workers: int = WORKERS
) -> Report:
    """Run ``leads`` leads for ``days`` simulated days; the report's violations must all be 0."""
    rng = random.Random(seed)
    start = _ceil(datetime.now(UTC))
    end = start + timedelta(days=days)
    population = draw_leads(leads, start, days, rng)
    orgs = setup(database_url, population, start)
    events = sorted(
        [(at, i, "reply") for i, lead in enumerate(population) for at in lead.replies]
        + [(at, i, kind) for i, lead in enumerate(population) for kind, at in lead.stops.items()]
        # one event: the organization's budget row, through any of its leads
        + [(lead.budget_out, i, "budget") for i, lead in enumerate(population) if lead.budget_out][:1],
        key=lambda e: (e[0], e[1]),
    )
    report = Report(leads=leads, days=days, workers=workers)
    mine = {lead.conversation_id for lead in population}
    started = time.perf_counter()
    loop = asyncio.new_event_loop()
    pool = Workers(workers)
    try:
        with psycopg.connect(database_url, autocommit=True) as conn:
            _cron(loop, pool, start, True, batch, report, mine)
            report.ticks += 1
            cursor = 0
            while True:
                due = conn.execute(
                    "select min(due_at) from public.follow_ups where status = 'scheduled'"
                    " and organization_id = any(%s)",
                    (orgs,),
                ).fetchone()
                candidates = [
                    t
                    for t in (due[0] if due else None, _ceil(events[cursor][0]) if cursor < len(events) else None)
                    if t
                ]
                if not candidates or min(candidates) > end:
                    break
                tick = min(candidates)
                replies: list[tuple[Lead, datetime]] = []
                planned = False
                while cursor < len(events) and events[cursor][0] <= tick:
                    at, index, kind = events[cursor]
                    if kind == "reply":
                        replies.append((population[index], at))
                    else:
                        _stop(conn, population[index], kind, at)
                    planned = True
                    cursor += 1
                _replies(conn, replies, orgs)
                _cron(loop, pool, tick, planned, batch, report, mine)
                report.ticks += 1
    finally:
        from shared.lifecycle import close_clients

        pool.close()
        loop.run_until_complete(close_clients())
        loop.close()
    report.seconds = time.perf_counter() - started
    check(database_url, population, orgs, start, end, report)
    return report


def _stopped_at(lead: Lead, anchor: datetime, moment: datetime) -> str | None:
    """A stop condition true at ``moment`` for the silence begun at ``anchor``, from the lead's events alone."""
    for kind, at in lead.stops.items():
        if at <= moment:
            return kind
    if lead.budget_out is not None and lead.budget_out <= moment:
        return "budget"
    if any(anchor < r <= moment for r in lead.replies):
        return "reply"
    return None


def _window_open(lead: Lead, start: datetime, moment: datetime) -> bool:
    return any(m <= moment < m + timedelta(hours=24) for m in [start, *lead.replies])


def check(
    database_url: str, population: list[Lead], orgs: list[uuid.UUID], start: datetime, end: datetime, report: Report
) -> None:
    """Count every violation, from the stored follow-ups and messages against the drawn events."""
    by_conversation = {lead.conversation_id: lead for lead in population}
    with psycopg.connect(database_url, row_factory=psycopg.rows.dict_row) as conn:
        rows = conn.execute(
            "select id, conversation_id, step, anchor_at, status, reason, kind, finished_at from public.follow_ups"
            " where organization_id = any(%s) order by conversation_id, anchor_at, step",
            (orgs,),
        ).fetchall()
        duplicates = conn.execute(
            "select count(*) as n from (select payload -> 'follow_up' ->> 'id' from public.messages"
            " where organization_id = any(%s) and payload ? 'follow_up' group by 1 having count(*) > 1) d",
            (orgs,),
        ).fetchone()
    for _ in range(int(duplicates["n"]) if duplicates else 0):
        report.violation("duplicate step", "a follow-up with two messages")
    seen: set[tuple[uuid.UUID, datetime, int]] = set()
    done: dict[tuple[uuid.UUID, datetime, int], datetime] = {}
    sent_times: dict[uuid.UUID, list[datetime]] = {}
    for row in rows:
        key = (row["conversation_id"], row["anchor_at"], row["step"])
        if key in seen:
            report.violation("duplicate step", str(key))
        seen.add(key)
        if row["status"] in ("sent", "skipped"):
            done[key] = row["finished_at"]
    for row in rows:
        lead = by_conversation[row["conversation_id"]]
        anchor, step, at = row["anchor_at"], row["step"], row["finished_at"]
        previous = done.get((row["conversation_id"], anchor, step - 1)) if step else None
        due = anchor + timedelta(minutes=STEPS[step])
        if previous is not None:
            due = max(due, previous + timedelta(minutes=STEPS[step] - STEPS[step - 1]))
        due = _ideal(due, lead.zone)
        detail = f"{row['status']}/{row['reason']} step {step} anchor {anchor} due {due} at {at} zone {lead.zone}"
        if row["status"] == "sent":
            sent_times.setdefault(lead.lead_id, []).append(at)
            if _stopped_at(lead, anchor, at):
                report.violation("sent after a stop condition", detail)
            if _quiet(at, lead.zone):
                report.violation("sent inside quiet hours", detail)
            if lead.channel == "whatsapp" and not _window_open(lead, start, at) and row["kind"] != "template":
                report.violation("free-form WhatsApp outside the window", detail)
            lateness = (at - due).total_seconds()
            report.on_time_checked += 1
            report.max_lateness_s = max(report.max_lateness_s, lateness)
            if not 0 <= lateness <= CRON.total_seconds():
                report.violation("late (more than one cron period after due)", detail)
        elif row["status"] == "stopped":
            legit = row["reason"] == "max_per_period" or _stopped_at(lead, anchor, at or end) is not None
            if row["reason"] == "lead_replied":
                legit = any(anchor < r for r in lead.replies) or not ORGS[lead.org][2]
            if not legit:
                report.violation("stopped or skipped without a rule", detail)
        elif row["status"] == "skipped":
            if not (lead.channel == "whatsapp" and not ORGS[lead.org][1] and not _window_open(lead, start, at)):
                report.violation("stopped or skipped without a rule", detail)
        elif due + CRON <= end and not _stopped_at(lead, anchor, due):
            report.violation("due but never sent", detail)
    _check_chains(population, rows, done, start, end, report)


def _check_chains(
    population: list[Lead],
    rows: list[dict[str, Any]],
    done: dict[tuple[uuid.UUID, datetime, int], datetime],
    start: datetime,
    end: datetime,
    report: Report,
) -> None:
    """Every silence got its first step, and every sent or skipped step its next one, when due before the end."""
    keys = {(r["conversation_id"], r["anchor_at"], r["step"]) for r in rows}
    for lead in population:
        for anchor in [start, *lead.replies]:
            blocked = any(k in ("takeover", "close") and at <= anchor for k, at in lead.stops.items())
            due = _ideal(anchor + timedelta(minutes=STEPS[0]), lead.zone)
            if not blocked and due + CRON <= end and (lead.conversation_id, anchor, 0) not in keys:
                report.violation("due but never sent", f"no first step for the silence of {anchor}")
    for (conversation, anchor, step), at in done.items():
        if step + 1 < len(STEPS):
            gap = timedelta(minutes=STEPS[step + 1] - STEPS[step])
            nxt = max(anchor + timedelta(minutes=STEPS[step + 1]), at + gap)
            if nxt + CRON <= end and (conversation, anchor, step + 1) not in keys:
                report.violation("due but never sent", f"no step {step + 1} after the one done at {at}")
