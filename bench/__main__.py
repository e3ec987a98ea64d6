"""``python -m bench``: cold init and warm latency of every function, against floors, as markdown.

Everything runs on this machine in one run: embedded Postgres, a private Redis, the
Upstash bridge. Cold init is measured in fresh interpreters (import + first request);
warm latency in one long-lived interpreter per function, like a warm container.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.cases import FLOOR_COLD, FLOOR_RLS, FLOOR_WARM, WHATSAPP_VERIFY_TOKEN, Case, function_cases, seed

REPO = Path(__file__).resolve().parents[1]
BLOCKS = 3  # warm samples are dealt into this many blocks; the spread of their p50s is the run's own noise
# GETs that are not reads of a resource: the health probe (Postgres and Redis pings) and Meta's handshake.
NOT_READS = {"health", "whatsappWebhook"}
READ_TARGET = 2.0  # authenticated warm read p50 <= 2x the one-SELECT floor


def _payload(case: Case, token: str | None) -> dict[str, Any]:
    return {**asdict(case), "token": token if case.auth else None}


def _invoke(case: Case, env: dict[str, str], iterations: int, token: str | None) -> dict[str, Any]:
    payload = json.dumps(_payload(case, token))
    out = subprocess.run(
        [sys.executable, "-m", "bench.invoke", payload, str(iterations)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if out.returncode != 0:
        raise SystemExit(f"{case.name} failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def measure(
    case: Case, env: dict[str, str], token: str | None, cold_runs: int, warm: int, floor: bool = False
) -> dict[str, Any]:
    """Median cold init over ``cold_runs`` fresh processes, then warm p50/p99 over ``warm`` calls.

    With ``floor``, the one-SELECT floor's warm p50 is measured again just before this function's warm run
    (``floor_p50_ms``), so the floor is sampled all through the run, not only at its start.
    """
    colds = [_invoke(case, env, 0, token) for _ in range(cold_runs)]
    adjacent = _pct(_invoke(FLOOR_WARM, env, warm, None)["warm_s"], 0.50) if floor else None
    warm_run = _invoke(case, env, warm, token)
    blocks = [warm_run["warm_s"][i::BLOCKS] for i in range(BLOCKS)]
    block_p50s = [_pct(b, 0.50) for b in blocks if b]
    return {
        "spread": (min(block_p50s), max(block_p50s)),
        "cold_ms": statistics.median(c["cold_ms"] for c in colds),
        "import_ms": statistics.median(c["import_ms"] for c in colds),
        "rss_mb": statistics.median(c["peak_rss_mb"] for c in colds),
        "status": colds[0]["first_status"],
        "p50_ms": _pct(warm_run["warm_s"], 0.50),
        "p99_ms": _pct(warm_run["warm_s"], 0.99),
        "cpu_p50_ms": _pct(warm_run["warm_cpu_s"], 0.50),
        "cpu_p99_ms": _pct(warm_run["warm_cpu_s"], 0.99),
        "litellm": any(c["litellm_loaded"] for c in colds),
        "floor_p50_ms": adjacent,
    }


def _is_read(case: Case) -> bool:
    return case.method == "GET" and case.floor is not None and case.name not in NOT_READS


def floor_median(rows: list[tuple[Case, dict[str, Any]]], warm_floor: dict[str, Any]) -> float:
    """The warm floor's p50 over the run: the median of the start's and every adjacent measurement."""
    samples = [warm_floor["p50_ms"], *(r["floor_p50_ms"] for _, r in rows if r.get("floor_p50_ms"))]
    return float(statistics.median(samples))


def table(
    rows: list[tuple[Case, dict[str, Any]]], cold_floor: dict[str, Any], warm_floor: dict[str, Any], rls_p50: float
) -> str:
    """The results as a markdown table, with ratios to the floors (``rls_p50``: the RLS transaction floor's p50)."""
    lines = [
        "| function | first status | cold init ms (import) | cold x floor | peak RSS MB | warm p50 ms | warm p99 ms"
        f" | p50 per block ({BLOCKS}) | floor p50 ms, just before | p50 x floor (median)"
        f" | read target (<= {READ_TARGET:g}x) | p50 x RLS transaction floor | CPU p50 / p99 ms | CPU p50 x floor"
        " | litellm imported |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    # The warm floor: the median of its p50 at the start and just before every function (one sample alone
    # swings by half on this machine, and a single start-of-run floor flattered every ratio).
    floor_p50 = floor_median(rows, warm_floor)
    for case, r in rows:
        cold_ratio = r["cold_ms"] / cold_floor["cold_ms"]
        adjacent = r.get("floor_p50_ms") or warm_floor["p50_ms"]
        p50_ratio = r["p50_ms"] / floor_p50
        target = ("ok" if p50_ratio <= READ_TARGET else "MISSED") if _is_read(case) else ""
        lines.append(
            f"| {case.name} | {r['status']} | {r['cold_ms']:.0f} ({r['import_ms']:.0f}) | {cold_ratio:.2f}"
            f" | {r['rss_mb']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f}"
            f" | {r['spread'][0]:.2f}-{r['spread'][1]:.2f} | {adjacent:.2f} | {p50_ratio:.2f} | {target}"
            f" | {r['p50_ms'] / rls_p50:.2f}"
            f" | {r['cpu_p50_ms']:.2f} / {r['cpu_p99_ms']:.2f} | {r['cpu_p50_ms'] / warm_floor['cpu_p50_ms']:.2f}"
            f" | {'yes' if r['litellm'] else 'no'} |"
        )
    return "\n".join(lines)


def instruction_table(rows: list[tuple[Case, dict[str, Any]]], env: dict[str, str], token: str | None) -> str:
    """Instructions per warm request of the SELECT floor and of every measured function, as a markdown table."""
    from bench import instructions

    if not instructions.available():
        return "skipped: valgrind is not installed (apt-get install valgrind)"
    floor = instructions.per_request(_payload(FLOOR_WARM, None), env, REPO)
    lines = ["| function | instructions per warm request | x SELECT floor |", "|---|---|---|"]
    lines.append(f"| {FLOOR_WARM.name} | {floor:,.0f} | 1.00 |")
    for case, _ in rows:
        if case in (FLOOR_COLD, FLOOR_WARM, FLOOR_RLS):
            continue
        count = instructions.per_request(_payload(case, token), env, REPO)
        lines.append(f"| {case.name} | {count:,.0f} | {count / floor:.2f} |")
    return "\n".join(lines)


class QueueDrain:
    """Consume the local turn queue while functions are measured: moto's FIFO sends slow down as a queue
    grows (real SQS does not), which would charge moto's bookkeeping to postMessage."""

    def __init__(self, endpoint: str, url: str) -> None:
        from local_runtime.aws import sqs_client

        self._sqs, self._url = sqs_client(endpoint), url
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> QueueDrain:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            received = self._sqs.receive_message(QueueUrl=self._url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received.get("Messages", []))
            ]
            if entries:
                self._sqs.delete_message_batch(QueueUrl=self._url, Entries=entries)

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--cold-runs", type=int, default=5)
    parser.add_argument("--warm", type=int, default=500)
    parser.add_argument("--functions-only", action="store_true", help="skip the worker and webhook benchmarks")
    parser.add_argument("--only", nargs="+", metavar="FUNCTION", help="measure only these HTTP functions")
    parser.add_argument("--reads", action="store_true", help="measure only the authenticated reads (GET)")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also count instructions per warm request under callgrind (needs valgrind; minutes per function)",
    )
    args = parser.parse_args()

    from local_runtime.aws import referenced_environment, start_aws
    from local_runtime.cli import services
    from local_runtime.dev_auth import create_organization_as, ensure_user, sign_token
    from local_runtime.gateway.routes import load_serverless

    with tempfile.TemporaryDirectory(prefix="ca-bench-") as tmp, services(Path(tmp), port=0) as runtime:
        config = load_serverless()
        aws = start_aws(config, delay_seconds=0)
        env = {
            **os.environ,
            **runtime.environment(),
            **aws.environment(),
            **referenced_environment(config, aws.queues),
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "PYTHONDONTWRITEBYTECODE": "1",
            # Every iteration comes from one IP and one organization: measure the work, not the 429.
            "RATE_LIMIT_ORG_PER_MINUTE": "100000000",
            "RATE_LIMIT_IP_PER_MINUTE": "100000000",
            "WHATSAPP_VERIFY_TOKEN": WHATSAPP_VERIFY_TOKEN,
            "WHATSAPP_APP_SECRET": secrets.token_hex(16),
        }
        user = ensure_user(runtime.database_url, "bench@example.com")
        org = create_organization_as(runtime.database_url, user, "Bench")
        token = sign_token(runtime.jwt_secret, runtime.issuer, user, "bench@example.com")
        seeded = seed(runtime.database_url, org)
        print(
            f"python {sys.version.split()[0]}, {os.cpu_count()} cpus; cold runs {args.cold_runs}, warm {args.warm}\n",
            file=sys.stderr,
        )
        cold_floor = measure(FLOOR_COLD, env, None, args.cold_runs, args.warm)
        warm_floor = measure(FLOOR_WARM, env, None, args.cold_runs, args.warm)
        rls_floor = measure(FLOOR_RLS, env, None, args.cold_runs, args.warm)
        rows = [(FLOOR_COLD, cold_floor), (FLOOR_WARM, warm_floor), (FLOOR_RLS, rls_floor)]
        with QueueDrain(aws.endpoint, aws.queues["TurnQueue"].url):
            for case in function_cases(seeded):
                if args.only and case.name not in args.only:
                    continue
                if args.reads and not _is_read(case):
                    continue
                rows.append((case, measure(case, env, token, args.cold_runs, args.warm, floor=True)))
        again = measure(FLOOR_WARM, env, None, 1, args.warm)  # the same floor at the end: the run's drift
        rls_again = measure(FLOOR_RLS, env, None, 1, args.warm)
        rls_p50 = (rls_floor["p50_ms"] + rls_again["p50_ms"]) / 2
        counted = instruction_table(rows, env, token) if args.instructions else None
        aws.stop()
    print("## HTTP functions: cold init and warm latency\n")
    print(table(rows, cold_floor, warm_floor, rls_p50))
    print(
        f"\n(warm ratios are against the SELECT floor's median p50 over the run,"
        f" {floor_median(rows, warm_floor):.2f} ms,"
        f" measured at the start ({warm_floor['p50_ms']:.2f}) and just before every function; at the end"
        f" {again['p50_ms']:.2f}; p99 {warm_floor['p99_ms']:.2f} at the start, {again['p99_ms']:.2f} at the end."
        f" The RLS transaction floor (begin, role and claims, select 1, commit: what every authenticated read pays"
        f" before it reads) is the mean of its p50 at the start and the end, {rls_p50:.2f} ms"
        f" ({rls_floor['p50_ms']:.2f}, {rls_again['p50_ms']:.2f}))"
    )
    if counted:
        print(f"\n## Instructions per warm request (callgrind: this process, the servers not counted)\n\n{counted}")
    if not args.functions_only:
        # Each starts its own services in a fresh process, so the tables do not disturb one another.
        for title, module in (
            ("The turn worker, against LiteLLM's own Router and proxy", "bench.turns"),
            ("Lists under RLS", "bench.rls"),
            ("The WhatsApp webhook", "bench.whatsapp_webhook"),
            ("Outcomes: analytics, experiments, budgets", "bench.outcomes"),
            ("Follow-ups", "bench.follow_ups"),
            ("The knowledge base", "bench.knowledge"),
            ("Knowledge in the turn", "bench.knowledge_turns"),
        ):
            print(f"\n## {title}\n", flush=True)
            subprocess.run([sys.executable, "-m", module], cwd=REPO, check=True)
    print(
        "\n## Cold init from the built artefact (Python 3.12, read-only layout, prod settings, tracing on)\n",
        flush=True,
    )
    from ship import artefact

    if artefact.built():
        subprocess.run([sys.executable, "-m", "bench.artefact"], cwd=REPO, check=True)
    else:
        print("skipped: no artefact; run `python3 scripts/dev.py package` first", flush=True)


if __name__ == "__main__":
    main()
