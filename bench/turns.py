"""``python -m bench.turns``: the turn worker's overhead, and what one turn costs in round trips.

One queued lead message to a stored reply, through the worker's Lambda handler (Powertools
batch processing, ``app.begin_turn``, the LiteLLM Router with the local zero-latency model,
``app.finish_turn``), against floors measured in the same process: one
``litellm.acompletion(mock_response=...)``, ``Router.acompletion`` of a mock deployment, and the
turn's own request to its own model, bare. Round trips are counted at the client libraries.
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
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from unittest import mock

import psycopg

T = TypeVar("T")
AGENT_CONFIG = {
    "persona": "Bench SDR",
    "goal": "qualify",
    "model": "fast",
    "qualification_fields": [
        {"name": "name", "type": "text", "required": True, "description": "Nome"},
        {"name": "email", "type": "email", "required": True, "description": "E-mail"},
    ],
}
COUNTS: Counter[str] = Counter()


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


@contextmanager
def counted_round_trips() -> Iterator[None]:
    """Count database statements sent (each ``execute`` is one round trip) and Redis commands."""
    from upstash_redis.http import AsyncHttpClient

    original_db, original_redis = psycopg.AsyncCursor.execute, AsyncHttpClient.execute

    async def db_execute(self: Any, *args: Any, **kwargs: Any) -> Any:
        COUNTS["db"] += 1
        return await original_db(self, *args, **kwargs)

    async def redis_execute(self: Any, url: str, headers: Any, command: Any, from_pipeline: bool = False) -> Any:
        COUNTS["redis"] += len(command) if from_pipeline else 1
        return await original_redis(self, url, headers, command, from_pipeline)

    psycopg.AsyncCursor.execute = db_execute  # type: ignore[method-assign]
    AsyncHttpClient.execute = redis_execute  # type: ignore[method-assign]
    try:
        yield
    finally:
        psycopg.AsyncCursor.execute = original_db  # type: ignore[method-assign]
        AsyncHttpClient.execute = original_redis  # type: ignore[method-assign]


@contextmanager
def timeline() -> Iterator[list[tuple[str, float, float]]]:
    """While open, marks (label, wall, this process's CPU) at each database round trip's and the model call's ends.

    For the table of where a turn's time goes: an extra, instrumented round, apart from the measured ones.
    """
    from shared.db import session
    from shared.llm import direct

    marks: list[tuple[str, float, float]] = []

    def mark(label: str) -> None:
        marks.append((label, time.perf_counter(), time.process_time()))

    trip, call = session._one_trip, direct.acompletion

    async def timed_trip(role: str, claims: str, statements: list[Any], *args: Any, **kwargs: Any) -> Any:
        sql = statements[-1][0]
        name = "begin_turn" if "begin_turn" in sql else "finish_turn" if "finish_turn" in sql else "other"
        mark(f"{name} sent")
        try:
            return await trip(role, claims, statements, *args, **kwargs)
        finally:
            mark(f"{name} answered")

    async def timed_call(*args: Any, **kwargs: Any) -> Any:
        mark("model called")
        try:
            return await call(*args, **kwargs)
        finally:
            mark("model answered")

    with mock.patch.object(session, "_one_trip", timed_trip), mock.patch.object(direct, "acompletion", timed_call):
        yield marks


def _segments(turns: list[list[tuple[str, float, float]]]) -> str:
    """Median wall and CPU time between consecutive marks, over turns that made the same marks."""
    shape = Counter(tuple(label for label, _, _ in marks) for marks in turns).most_common(1)[0][0]
    same = [marks for marks in turns if tuple(label for label, _, _ in marks) == shape]
    rows = ["| from | to | wall p50 ms | this process's CPU p50 ms |", "|---|---|---|---|"]
    for i in range(len(shape) - 1):
        wall = [m[i + 1][1] - m[i][1] for m in same]  # seconds: _pct gives milliseconds
        cpu = [m[i + 1][2] - m[i][2] for m in same]
        rows.append(f"| {shape[i]} | {shape[i + 1]} | {_pct(wall, 0.5):.2f} | {_pct(cpu, 0.5):.2f} |")
    total = [m[-1][1] - m[0][1] for m in same]
    total_cpu = [m[-1][2] - m[0][2] for m in same]
    rows.append(f"| {shape[0]} | {shape[-1]} | {_pct(total, 0.5):.2f} | {_pct(total_cpu, 0.5):.2f} |")
    return "\n".join(rows)


def _tenant(database_url: str) -> tuple[uuid.UUID, uuid.UUID]:
    org, agent = uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("insert into public.organizations (id, name, slug) values (%s, 'Bench', %s)", (org, org.hex))
        conn.execute("insert into public.agents (id, organization_id, name) values (%s, %s, 'B')", (agent, org))
        conn.execute(
            "insert into public.agent_versions (organization_id, agent_id, version, config) values (%s, %s, 1, %s)",
            (org, agent, json.dumps(AGENT_CONFIG)),
        )
        conn.execute(  # the organization's budget exists from its creation
            "update public.budgets set monthly_limit_usd = 1000000 where organization_id = %s and agent_id is null",
            (org,),
        )
    return org, agent


def queued_messages(
    database_url: str, org: uuid.UUID, agent: uuid.UUID, n: int, text: str = "Oi, meu nome é Ana"
) -> list[dict[str, Any]]:
    """``n`` conversations, each with one queued lead message (``text``), as SQS events for the worker."""
    events = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        for _ in range(n):
            lead = conn.execute("insert into public.leads (organization_id) values (%s) returning id", (org,))
            lead_id = lead.fetchone()[0]  # type: ignore[index]
            conv = conn.execute(
                "insert into public.conversations (organization_id, agent_id, agent_version, lead_id, channel)"
                " values (%s, %s, 1, %s, 'api') returning id",
                (org, agent, lead_id),
            ).fetchone()[0]  # type: ignore[index]
            msg = conn.execute(
                "insert into public.messages (organization_id, conversation_id, role, content, status)"
                " values (%s, %s, 'lead', %s, 'queued') returning id",
                (org, conv, text),
            ).fetchone()[0]  # type: ignore[index]
            events.append(_sqs_event(str(conv), str(msg)))
    return events


def _sqs_event(conversation: str, message: str) -> dict[str, Any]:
    attributes = {"MessageGroupId": conversation, "MessageDeduplicationId": message, "ApproximateReceiveCount": "1"}
    record = {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "bench",
        "body": json.dumps({"type": "turn", "message_id": message}),
        "attributes": {**attributes, "SentTimestamp": "0", "SequenceNumber": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:turns.fifo",
        "awsRegion": "us-east-1",
    }
    return {"Records": [record]}


def _time(call: Callable[[], Any], n: int, cpu: list[float] | None = None) -> list[float]:
    """Wall time of ``n`` calls; this process's CPU time of each appended to ``cpu`` when given."""
    samples = []
    for _ in range(n):
        started, cpu_started = time.perf_counter(), time.process_time()
        call()
        samples.append(time.perf_counter() - started)
        if cpu is not None:
            cpu.append(time.process_time() - cpu_started)
    return samples


ROUNDS = 3  # each measure is taken in this many interleaved rounds; their p50s give the run-to-run spread


def _mock_router() -> Any:
    """LiteLLM's Router with one deployment answering with the same mock response as the floor and the proxy."""
    from litellm.router import Router

    from bench.proxy import MOCK_MODEL

    deployment = {"model": "openai/gpt-4o-mini", "api_key": "sk-bench", "mock_response": "ok"}
    return Router(model_list=[{"model_name": MOCK_MODEL, "litellm_params": deployment}])


def measure(database_url: str, n: int, proxy: str | None) -> dict[str, Any]:
    """Floors, worker turns and (if given) the proxy, in interleaved rounds in this process; round trips per turn."""
    import litellm

    from bench.proxy import MOCK_MODEL, proxy_samples
    from functions.workers.turn_worker import handler as worker
    from local_runtime.containers import retire_loop
    from local_runtime.lambda_context import LocalLambdaContext
    from shared.runtime import container_loop, run

    org, agent = _tenant(database_url)
    messages = [{"role": "user", "content": "Oi, meu nome é Ana"}]
    router = _mock_router()
    events = iter(queued_messages(database_url, org, agent, n + n // ROUNDS + 20))
    context: Any = LocalLambdaContext("turnWorker")
    with turn_request() as request:
        for _ in range(20):  # warm the container: connection, Router, prices
            worker.handler(next(events), context)
    same_model = request["deployment"]
    calls: dict[str, Callable[[], Any]] = {
        "floor": lambda: run(litellm.acompletion(model="gpt-4o-mini", messages=messages, mock_response="ok")),
        "router": lambda: run(router.acompletion(model=MOCK_MODEL, messages=messages)),
        # the turn's own request (prompt, tools, params) to the turn's own deployment (the local model), bare
        "model": lambda: run(litellm.acompletion(messages=request["messages"], **same_model, **request["params"])),
    }
    for call in calls.values():
        _time(call, 20)  # warm
    samples: dict[str, list[list[float]]] = {name: [] for name in (*calls, "turn", "proxy")}
    cpu: dict[str, list[float]] = {name: [] for name in (*calls, "turn")}
    per_round = max(1, n // ROUNDS)
    COUNTS.clear()
    for _ in range(ROUNDS):
        for name, call in calls.items():
            samples[name].append(_time(call, per_round, cpu[name]))
        with counted_round_trips():
            samples["turn"].append(_time(lambda: worker.handler(next(events), context), per_round, cpu["turn"]))
        if proxy is not None:
            samples["proxy"].append(proxy_samples(proxy, messages, per_round, warmup=5))
    turns = per_round * ROUNDS  # every event above is one lead message in its own conversation
    traced: list[list[tuple[str, float, float]]] = []
    with timeline() as marks:  # one more round, instrumented: where a turn's time goes
        for _ in range(per_round):
            marks.clear()
            marks.append(("handler called", time.perf_counter(), time.process_time()))
            worker.handler(next(events), context)
            marks.append(("handler returned", time.perf_counter(), time.process_time()))
            traced.append(list(marks))
    retire_loop(container_loop())  # the worker's container loop: its clients and LiteLLM's logging worker
    return {
        "samples": samples,
        "cpu": cpu,
        "db": COUNTS["db"] / turns,
        "redis": COUNTS["redis"] / turns,
        "segments": _segments(traced),
    }


@contextmanager
def turn_request() -> Iterator[dict[str, Any]]:
    """While open, records the worker's model request: its messages, its call params, and its deployment's params.

    The bare floor calls a mock with one short message; a turn sends the agent's prompt and tools to the local
    model, whose own work (reading the prompt, writing the reply and its tool calls) is the provider's time, not
    the worker's. The "model" floor is that same request, bare, so the two can be told apart.
    """
    from shared.llm import direct

    seen: dict[str, Any] = {}
    original = direct.acompletion

    async def recording(router: Any, model: str, messages: list[Any], **kwargs: Any) -> Any:
        deployment = next(d for d in router.model_list if d["model_name"] == model)
        params = {k: v for k, v in kwargs.items() if k != "metadata"}
        seen.update(messages=messages, params=params, deployment=dict(deployment["litellm_params"]))
        return await original(router, model, messages, **kwargs)

    with mock.patch.object(direct, "acompletion", recording):
        yield seen


def _row(label: str, rounds: list[list[float]], target: str = "") -> tuple[str, float]:
    merged = [x for r in rounds for x in r]
    p50s = [_pct(r, 0.5) for r in rounds]
    spread = f"{min(p50s):.2f}-{max(p50s):.2f}"
    return f"| {label} | {_pct(merged, 0.5):.2f} | {_pct(merged, 0.99):.2f} | {spread} | {target} |", _pct(merged, 0.5)


def table(result: dict[str, Any]) -> str:
    """The figures as markdown rows."""
    s = result["samples"]
    floor_row, floor = _row("floor: litellm.acompletion(mock_response)", s["floor"])
    router_row, router = _row("floor: Router.acompletion(mock deployment)", s["router"])
    model_row, model = _row("floor: the turn's own request to its own model (the local model), bare", s["model"])
    turn_line, turn = _row("worker turn: queued message to stored reply", s["turn"])
    lines = [
        "| measure | p50 ms | p99 ms | p50 per round (spread) | target |",
        "|---|---|---|---|---|",
        floor_row,
        router_row,
        model_row.replace(" |  |", f" | the model's own work: {model - floor:+.2f} ms over the mock |"),
        turn_line.replace(
            " |  |",
            f" | p50 <= floor + 5 ms: overhead {turn - floor:+.2f} ms over the bare call,"
            f" {turn - router:+.2f} ms over the Router, {turn - model:+.2f} ms over the same request bare |",
        ),
    ]
    if s["proxy"]:
        proxy_row, proxy = _row("LiteLLM proxy on loopback: one chat completion (mock deployment)", s["proxy"])
        ours, theirs = turn - floor, proxy - floor
        lines.append(proxy_row.replace(" |  |", f" | its routing overhead {theirs:+.2f} ms over the bare call |"))
        lines.append(
            f"| our whole turn's overhead / the proxy's routing overhead | {ours / theirs:.2f} | | |"
            f" < 1 ({ours:.2f} ms / {theirs:.2f} ms) |"
        )
    c = {name: (_pct(v, 0.5), _pct(v, 0.99)) for name, v in result["cpu"].items()}
    lines.append(
        f"| worker turn, this process's CPU time (what the machine's other load does not add) | {c['turn'][0]:.2f}"
        f" | {c['turn'][1]:.2f} | | overhead {c['turn'][0] - c['floor'][0]:+.2f} ms over the bare call's"
        f" {c['floor'][0]:.2f} ms (p99 {c['floor'][1]:.2f}), {c['turn'][0] - c['router'][0]:+.2f} ms over the"
        f" Router's {c['router'][0]:.2f} ms, {c['turn'][0] - c['model'][0]:+.2f} ms over the same request's"
        f" {c['model'][0]:.2f} ms |"
    )
    lines += [
        f"| database round trips per turn | {result['db']:.1f} | | | <= 2 |",
        f"| Redis commands per turn | {result['redis']:.1f} | | | <= 6 |",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.turns")
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--no-proxy", action="store_true", help="skip LiteLLM's proxy (no bench venv needed)")
    args = parser.parse_args()
    from bench.proxy import litellm_proxy
    from local_runtime.cli import services

    with tempfile.TemporaryDirectory(prefix="ca-bench-") as tmp, services(Path(tmp), port=0) as runtime:
        os.environ.update({**runtime.environment(), "POWERTOOLS_LOG_LEVEL": "WARNING", "APP_ENV": "test"})
        with contextlib.ExitStack() as stack:
            proxy = None if args.no_proxy else stack.enter_context(litellm_proxy(Path(tmp)))
            # The worker's EMF metrics are still serialised and written each turn, to /dev/null, not the table.
            with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
                result = measure(runtime.database_url, args.turns, proxy)
                load = budget_under_load(runtime.database_url)
    print(table(result))
    print(f"\nWhere a turn's time goes (an extra round of {args.turns // ROUNDS} turns, instrumented):\n")
    print(result["segments"])
    print("\n| budget under load | budget | turns | spend | holds |\n|---|---|---|---|---|")
    print(load)
    print(f"\n(turns: {args.turns}, in {ROUNDS} interleaved rounds with the floors and the proxy)")


def budget_under_load(database_url: str, concurrent: int = 50, covers: Decimal = Decimal("3.5")) -> str:
    """``concurrent`` turns at once, each on its own loop and connection, against a budget for ~``covers``."""
    from concurrent.futures import ThreadPoolExecutor

    from shared.turns.service import run_turn

    org, agent = _tenant(database_url)
    events = queued_messages(database_url, org, agent, concurrent + 1)
    ids = [uuid.UUID(json.loads(e["Records"][0]["body"])["message_id"]) for e in events]
    _on_a_loop_of_its_own(run_turn(ids[0]))  # one turn to learn what a reservation costs
    with psycopg.connect(database_url, autocommit=True) as conn:
        reserved = conn.execute(
            "select amount_usd from public.budget_reservations where organization_id = %s", (org,)
        ).fetchone()[0]  # type: ignore[index]
        limit = (reserved * covers).quantize(Decimal("0.000001"))
        conn.execute(
            "update public.budgets set monthly_limit_usd = %s, spent_usd = 0, reserved_usd = 0"
            " where organization_id = %s",
            (limit, org),
        )

    def turn(message_id: uuid.UUID) -> str:  # its own loop, so its own connection: a container of its own
        return _on_a_loop_of_its_own(run_turn(message_id)).status

    with ThreadPoolExecutor(max_workers=concurrent) as pool:
        statuses = list(pool.map(turn, ids[1:]))
    with psycopg.connect(database_url) as conn:
        spent, held = conn.execute(
            "select spent_usd, reserved_usd from public.budgets where organization_id = %s", (org,)
        ).fetchone()  # type: ignore[misc]
    return (
        f"| {concurrent} concurrent turns | budget {limit} USD (~{covers} worst-case reservations of {reserved})"
        f" | answered {statuses.count('ok')}, refused {statuses.count('refused')} | spent {spent} USD,"
        f" still reserved {held} | spent <= budget: {'yes' if spent <= limit else 'NO'} |"
    )


def _on_a_loop_of_its_own(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on a new loop (a container of its own), then retire that loop (``retire_loop``), so no
    task is destroyed pending and no connection is left open at exit."""
    from local_runtime.containers import retire_loop

    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        retire_loop(loop)


if __name__ == "__main__":
    main()
