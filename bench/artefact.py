"""``python -m bench.artefact``: cold init of every HTTP function and the turn worker, from the built artefact.

Each measurement is a fresh Python 3.12 process started the way ``tests/artefact`` starts it: the
function's zip and its layers unpacked read-only (this machine's build of the same locks), the shipped
bytecode, production settings with ``ssm:`` secrets from moto's SSM, tracing on with a sampled trace
header. Floors are packaged the same way (compiled into a zip, on the HTTP layer): a bare FastAPI +
Mangum function, and the same plus psycopg and one SELECT. Needs ``python3 scripts/dev.py package``.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from ship import artefact
from ship.build import BUILD, compile_tree, find_python312, target_arch, zip_dir
from ship.scenario import EVENTS, Scenario, Services, http_function_events, prepare
from ship.smoke import Runner

REPO = Path(__file__).resolve().parents[1]
WORKER_COLD = "turnWorker cold (init + an ignored record)"
WORKER_RESTORED = "turnWorker SnapStart restore (after-restore hooks + the record)"
FLOORS_SELECT = "floor: +psycopg+SELECT"
FLOORS = {"floor: FastAPI+Mangum": ("hello", "GET /hello"), FLOORS_SELECT: ("select_one", "GET /select")}
# label -> the function and how to start it (``wrapper=`` runs it under a command, valgrind say)
Starts = dict[str, tuple[artefact.Function, Callable[..., dict[str, Any]]]]
FLOOR_EVERY = 6  # the floors are started again after every sixth function of a round


def package_floor(python312: Path, module: str) -> artefact.Function:
    """A floor as its own function zip (``bench/floors/<module>.py``, 3.12 bytecode) on the HTTP layer."""
    root = BUILD / "floors" / module
    (root / "floors").mkdir(parents=True, exist_ok=True)
    (root / "floors" / f"{module}.py").write_bytes((REPO / "bench" / "floors" / f"{module}.py").read_bytes())
    compile_tree(python312, root, "/var/task", (".",))
    zip_dir(root, BUILD / "floors" / f"{module}.zip")
    return artefact.Function(
        name=f"floor-{module}",
        handler=f"floors/{module}.handler",
        zip=BUILD / "floors" / f"{module}.zip",
        layers=("http",),
        environment={},
    )


def _floor_event(route: str) -> dict[str, Any]:
    from bench.invoke import api_event

    method, path = route.split(" ", 1)
    return api_event({"route_key": route, "path": path, "method": method}, None)


def _measure(runs: list[dict[str, Any]], name: str) -> dict[str, float]:
    """Medians; a SnapStart restore's "init" is its after-restore hooks (the init ran before the snapshot)."""
    for run in runs:
        if "error" in run:
            raise SystemExit(f"{name} failed:\n{run['error']}\n{run['stderr'][-2000:]}")
        if "restore_ms" in run and run["hooks"][1] == 0:
            raise SystemExit(f"{name}: the handler registered no after-restore hook")
    init = [r.get("restore_ms", r["init_ms"]) for r in runs]
    init_cpu = [r.get("restore_cpu_ms", r["init_cpu_ms"]) for r in runs]
    return {
        "init_ms": statistics.median(init),
        "first_ms": statistics.median(r["invocations"][0]["ms"] for r in runs),
        "cold_ms": statistics.median(i + r["invocations"][0]["ms"] for i, r in zip(init, runs, strict=True)),
        "cold_cpu_ms": statistics.median(
            i + r["invocations"][0]["cpu_ms"] for i, r in zip(init_cpu, runs, strict=True)
        ),
        "rss_mb": statistics.median(r["peak_rss_mb"] for r in runs),
    }


def _size_mb(function: artefact.Function, arch: str) -> float:
    return sum(artefact.unzipped_size(p) for p in (function.zip, *function.layer_zips(arch))) / 1e6


def run(scenario: Scenario, cold_runs: int, only: set[str] | None = None, instructions: bool = False) -> str:
    """The markdown table: floors, every HTTP function, the turn worker; with ``instructions``, their counts too.

    Rounds interleave everything (each round starts every function once), so a load that drifts
    during the run (other work on a shared machine) weighs on the floors and the functions alike.
    """
    python312 = find_python312()
    arch = target_arch()
    starts: Starts = {}
    for label, (module, route) in FLOORS.items():
        floor = package_floor(python312, module)
        env = {**scenario.environment(floor), "DATABASE_URL": scenario.services.database_url}
        event = _floor_event(route)
        starts[label] = (floor, partial(scenario.runner.start, floor, [event], env))
    for name, events in sorted(http_function_events(scenario).items()):
        if only is not None and name not in only:
            continue
        starts[name] = (scenario.functions[name], partial(scenario.start, name, events[:1]))
    if only is None or "turnWorker" in only:
        # The worker's init, then a record it only logs (a real turn's cost is `python -m bench.turns`).
        record = json.loads((EVENTS / "sqs_fifo.json").read_text())["Records"][0]
        ignored = {"Records": [{**record, "body": json.dumps({"type": "bench-noop"})}]}
        worker = scenario.functions["turnWorker"]
        starts[WORKER_COLD] = (worker, partial(scenario.start, "turnWorker", [ignored]))
        # SnapStart: init, the hooks before the snapshot, then the restore (after-restore hooks) and the same record.
        starts[WORKER_RESTORED] = (worker, partial(scenario.start, "turnWorker", [ignored], snapstart=True))
    table = _table(starts, cold_runs, arch)
    if instructions:
        table += "\n\n" + instruction_table(starts)
    return table


def _table(starts: Starts, cold_runs: int, arch: str) -> str:
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label in starts}
    floor_labels = list(FLOORS)
    for _ in range(cold_runs):
        for index, (label, (_, start)) in enumerate(starts.items()):
            runs[label].append(start())
            if label not in FLOORS and index % FLOOR_EVERY == 0:
                # The floors again, all through the round: three samples at its start moved every ratio by
                # a tenth from one run to the next on a shared machine; their median over the run does not.
                for floor in floor_labels:
                    runs[floor].append(starts[floor][1]())
    rows = [
        (label, ", ".join(function.layers), _size_mb(function, arch), _measure(runs[label], label))
        for label, (function, _) in starts.items()
    ]
    floors = {module: _measure(runs[label], label) for label, (module, _) in FLOORS.items()}
    base, base_cpu = floors["select_one"]["cold_ms"], floors["select_one"]["cold_cpu_ms"]
    lines = [
        f"python 3.12 ({find_python312()}), artefact of the {arch} locks run as this machine's build; "
        f"median of {cold_runs} fresh processes (the floors: of every start, {len(runs[FLOORS_SELECT])} of them, "
        f"repeated after every {FLOOR_EVERY}th function); cold = init (import) + first invocation "
        "(for a SnapStart restore: its after-restore hooks + first invocation; the init ran before the snapshot); "
        "CPU = the process's CPU time over the same span (steadier than wall time on a shared machine).",
        "",
        "| function | layers | unzipped MB | init ms | first invoke ms | cold ms | x psycopg floor "
        "| cold CPU ms | x floor CPU | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, layers, size, stats in rows:
        lines.append(
            f"| {name} | {layers} | {size:.1f} | {stats['init_ms']:.0f} | {stats['first_ms']:.0f} | "
            f"{stats['cold_ms']:.0f} | {stats['cold_ms'] / base:.2f} | {stats['cold_cpu_ms']:.0f} | "
            f"{stats['cold_cpu_ms'] / base_cpu:.2f} | {stats['rss_mb']:.0f} |"
        )
    return "\n".join(lines)


def instruction_table(starts: Starts) -> str:
    """Each HTTP function's and floor's cold start (process start to first answer) in instructions, under callgrind.

    One process each (the count repeats; time does not), two at a time. The worker is left out: under valgrind
    its LiteLLM import alone runs for minutes.
    """
    from bench import instructions

    if not instructions.available():
        return "skipped: valgrind is not installed (apt-get install valgrind)"
    labels = [label for label in starts if label not in (WORKER_COLD, WORKER_RESTORED)]

    def count(label: str) -> int:
        report = starts[label][1](wrapper=instructions.CALLGRIND)
        total = instructions.collected(report["stderr"])
        if total is None:
            raise SystemExit(f"{label}: callgrind printed no total:\n{report['stderr'][-2000:]}")
        return total

    with ThreadPoolExecutor(max_workers=2) as pool:
        counts = dict(zip(labels, pool.map(count, labels), strict=True))
    floor = counts[FLOORS_SELECT]
    lines = ["| function | cold start, instructions | x psycopg floor |", "|---|---|---|"]
    lines += [f"| {label} | {n:,} | {n / floor:.2f} |" for label, n in counts.items()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.artefact")
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--only", nargs="*", help="measure only these functions (and the floors)")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also count each cold start's instructions under callgrind (needs valgrind; about a minute each)",
    )
    args = parser.parse_args()
    if not artefact.built():
        raise SystemExit("no artefact: run `python3 scripts/dev.py package` first")
    from local_runtime.aws import start_aws
    from local_runtime.cli import services
    from local_runtime.gateway.routes import load_serverless

    daemon = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # where the X-Ray SDK sends segments
    daemon.bind(("127.0.0.1", 0))
    runner = Runner()
    with tempfile.TemporaryDirectory(prefix="ca-bench-artefact-") as tmp, services(Path(tmp), port=0) as runtime:
        aws = start_aws(load_serverless(), delay_seconds=0)
        try:
            local = Services(
                database_url=runtime.database_url,
                upstash_url=runtime.upstash_url,
                upstash_token=runtime.upstash_token,
                jwt_secret=runtime.jwt_secret,
                issuer=runtime.issuer,
                aws_endpoint=aws.endpoint,
                aws_env=aws.environment(),
                queues={logical: queue.url for logical, queue in aws.queues.items()},
                xray_port=daemon.getsockname()[1],
            )
            scenario = prepare(local, runner)
            # Every run comes from one IP and one organization: measure the work, not the 429.
            scenario.extra_env = {"RATE_LIMIT_ORG_PER_MINUTE": "100000000", "RATE_LIMIT_IP_PER_MINUTE": "100000000"}
            only = set(args.only) if args.only else None
            print(run(scenario, args.cold_runs, only, args.instructions), flush=True)
        finally:
            aws.stop()
            runner.close()
            daemon.close()


if __name__ == "__main__":
    main()
