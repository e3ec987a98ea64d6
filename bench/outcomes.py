"""``python -m bench.outcomes``: analytics, experiment results and budgets at 100k conversations / 1M messages.

Loads the seeded data set (``bench/datasets/outcomes.py``) for two organizations of the same size,
times the rollup refresh (full, then incremental after 1% of the conversations changed), and calls
the HTTP handlers in-process (API Gateway events through Mangum, FastAPI, the user's RLS session)
as a viewer of the first organization. Targets: funnel, cost and experiment results p95 <= 300 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

from bench.datasets.outcomes import Org, generate
from bench.invoke import _Context, api_event

TARGET_MS = 300.0
RANGE = "from=2026-08-01T00:00:00Z&to=2026-11-01T00:00:00Z"


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _cases(org: Org) -> list[tuple[str, str, str, float | None]]:
    """(label, handler module, path, target ms)."""
    o = f"/organizations/{org.id}"
    return [
        ("funnel", "functions.analytics.get_funnel.handler", f"{o}/analytics/funnel?{RANGE}", TARGET_MS),
        (
            "funnel by agent version and week",
            "functions.analytics.get_funnel.handler",
            f"{o}/analytics/funnel?{RANGE}&group_by=agent_version,week",
            TARGET_MS,
        ),
        ("cost", "functions.analytics.get_cost.handler", f"{o}/analytics/cost?{RANGE}", TARGET_MS),
        (
            "cost by experiment variant and channel",
            "functions.analytics.get_cost.handler",
            f"{o}/analytics/cost?{RANGE}&group_by=experiment_variant,channel",
            TARGET_MS,
        ),
        (
            "outcomes by agent",
            "functions.analytics.get_outcomes.handler",
            f"{o}/analytics/outcomes?{RANGE}&group_by=agent",
            None,
        ),
        (
            "quality by day",
            "functions.analytics.get_quality.handler",
            f"{o}/analytics/quality?{RANGE}&group_by=day",
            None,
        ),
        (
            "experiment results",
            "functions.experiments.get_experiment_results.handler",
            f"/experiments/{org.experiment}/results",
            TARGET_MS,
        ),
        ("budgets", "functions.budgets.list_budgets.handler", f"{o}/budgets", None),
        ("usage by model (90 days)", "functions.budgets.get_usage.handler", f"{o}/usage?{RANGE}", None),
    ]


def _route_key(module: str) -> str:
    from local_runtime.gateway.routes import functions, routes

    name = next(spec.name for spec in functions() if spec.module == module)
    return next(r.route_key for r in routes() if r.function == name)


def measure(org: Org, token: str, iterations: int) -> list[dict[str, Any]]:
    """Warm each handler, then time ``iterations`` calls."""
    rows = []
    for label, module_name, path, target in _cases(org):
        module = importlib.import_module(module_name)
        case = {"route_key": _route_key(module_name), "path": path, "method": "GET"}
        samples = []
        for i in range(iterations + 3):
            started = time.perf_counter()
            result = module.handler(api_event(case, token), _Context())
            if result["statusCode"] != 200:
                raise SystemExit(f"{label}: {result['statusCode']} {result.get('body')}")
            if i >= 3:
                samples.append(time.perf_counter() - started)
        blocks = [_pct(samples[i::3], 0.5) for i in range(3)]  # p50 per block: the run's own spread
        rows.append(
            {
                "label": label,
                "p50": _pct(samples, 0.5),
                "p95": _pct(samples, 0.95),
                "p99": _pct(samples, 0.99),
                "spread": (min(blocks), max(blocks)),
                "target": target,
            }
        )
    return rows


def _refresh(database_url: str, full: bool) -> tuple[int, float]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("set statement_timeout = 0")
        started = time.perf_counter()
        row = conn.execute("select app.refresh_analytics(%s)", (full,)).fetchone()
        return (int(row[0]) if row else 0), time.perf_counter() - started


def _touch(database_url: str, org: Org, share: float) -> int:
    """A CRM-style lead event on ``share`` of the organization's conversations (what an hour might bring)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        cur = conn.execute(
            "insert into public.lead_events (organization_id, lead_id, conversation_id, type, actor)"
            " select c.organization_id, c.lead_id, c.id, 'lead.updated', 'bench' from public.conversations c"
            " where c.organization_id = %s and abs(hashtext(c.id::text)) %% 1000 < %s",
            (org.id, int(share * 1000)),
        )
        return cur.rowcount


def _viewer(runtime: Any, org: Org) -> str:
    from local_runtime.dev_auth import ensure_user, sign_token

    email = "analyst@example.com"
    user = ensure_user(runtime.database_url, email)
    with psycopg.connect(runtime.database_url, autocommit=True) as conn:
        conn.execute(
            "insert into public.memberships (organization_id, user_id, role) values (%s, %s, 'viewer')"
            " on conflict do nothing",
            (org.id, user),
        )
    return sign_token(runtime.jwt_secret, runtime.issuer, user, email)


def table(load: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    lines = [
        f"data set: {load['orgs']} organizations x {load['conversations']:,} conversations"
        f" ({load['messages']:,} messages, {load['usage']:,} usage rows each), loaded in {load['load_s']:.1f} s",
        "",
        "| rollup refresh | conversations recomputed | seconds |",
        "|---|---|---|",
        f"| full | {load['full_rows']:,} | {load['full_s']:.2f} |",
        f"| incremental (1% touched) | {load['incremental_rows']:,} | {load['incremental_s']:.2f} |",
        "",
        "| in-process request (viewer, 90 days) | p50 ms | p95 ms | p99 ms | p50 per block (3) | target p95 | holds |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        target = f"<= {r['target']:.0f}" if r["target"] else ""
        holds = ("yes" if r["p95"] <= r["target"] else "NO") if r["target"] else ""
        lines.append(
            f"| {r['label']} | {r['p50']:.1f} | {r['p95']:.1f} | {r['p99']:.1f}"
            f" | {r['spread'][0]:.1f}-{r['spread'][1]:.1f} | {target} | {holds} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.outcomes")
    parser.add_argument("--conversations", type=int, default=100_000, help="per organization")
    parser.add_argument("--orgs", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=40)
    args = parser.parse_args()
    from local_runtime.cli import services

    with tempfile.TemporaryDirectory(prefix="ca-bench-") as tmp, services(Path(tmp), port=0) as runtime:
        os.environ.update({**runtime.environment(), "POWERTOOLS_LOG_LEVEL": "WARNING", "APP_ENV": "test"})
        os.environ.update({"RATE_LIMIT_ORG_PER_MINUTE": "100000000", "RATE_LIMIT_IP_PER_MINUTE": "100000000"})
        started = time.perf_counter()
        orgs = generate(runtime.database_url, seed="bench", orgs=args.orgs, conversations=args.conversations)
        load: dict[str, Any] = {
            "orgs": args.orgs,
            "conversations": args.conversations,
            "load_s": time.perf_counter() - started,
        }
        load.update(messages=orgs[0].counts["messages"], usage=orgs[0].counts["llm_usage"])
        with psycopg.connect(runtime.database_url, autocommit=True) as conn:
            conn.execute("vacuum analyze")
        load["full_rows"], load["full_s"] = _refresh(runtime.database_url, True)
        _touch(runtime.database_url, orgs[0], 0.01)
        load["incremental_rows"], load["incremental_s"] = _refresh(runtime.database_url, False)
        with psycopg.connect(runtime.database_url, autocommit=True) as conn:
            conn.execute("analyze public.analytics_conversations")
        token = _viewer(runtime, orgs[0])
        # The handlers' EMF metrics are still serialised and written, to /dev/null, not the table.
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            rows = measure(orgs[0], token, args.iterations)
    print(table(load, rows))


if __name__ == "__main__":
    main()
