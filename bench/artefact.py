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
FLOOR_BARE = "floor: FastAPI+Mangum"
FLOORS = {FLOOR_BARE: ("hello", "GET /hello"), FLOORS_SELECT: ("select_one", "GET /select")}
# label -> the function, how to start it with a list of events (``wrapper=`` runs it under a command,
# valgrind say), and the events of its cold start
Starts = dict[str, tuple[artefact.Function, Callable[..., dict[str, Any]], list[dict[str, Any]]]]
INIT_TARGET = 1.25  # an HTTP function's init, against the psycopg floor's (issue 7)
FLOOR_EVERY = 6  # the bare floor is started after every sixth function of a round


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


def _spans(run: dict[str, Any]) -> dict[str, float]:
    """One start's spans; a SnapStart restore's "init" is its after-restore hooks (the init ran before the snapshot)."""
    init = run.get("restore_ms", run["init_ms"])
    init_cpu = run.get("restore_cpu_ms", run["init_cpu_ms"])
    first = run["invocations"][0]
    return {
        "init_ms": init,
        "init_cpu_ms": init_cpu,
        "first_ms": first["ms"],
        "cold_ms": init + first["ms"],
        "cold_cpu_ms": init_cpu + first["cpu_ms"],
        "rss_mb": run["peak_rss_mb"],
    }


def _check(runs: list[dict[str, Any]], name: str) -> None:
    for run in runs:
        if "error" in run:
            raise SystemExit(f"{name} failed:\n{run['error']}\n{run['stderr'][-2000:]}")
        if "restore_ms" in run and run["hooks"][1] == 0:
            raise SystemExit(f"{name}: the handler registered no after-restore hook")


def _measure(runs: list[dict[str, Any]], name: str) -> dict[str, float]:
    """The median of each span over the starts."""
    _check(runs, name)
    spans = [_spans(run) for run in runs]
    return {key: statistics.median(span[key] for span in spans) for key in spans[0]}


def _paired(samples: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]) -> dict[str, float]:
    """Median over the starts of each span's ratio to the psycopg floor's, started just before and just after."""
    ratios: dict[str, list[float]] = {}
    for run, before, after in samples:
        spans, low, high = _spans(run), _spans(before), _spans(after)
        for key in ("init_ms", "init_cpu_ms", "cold_ms", "cold_cpu_ms"):
            ratios.setdefault(key, []).append(spans[key] / ((low[key] + high[key]) / 2))
    return {key: statistics.median(values) for key, values in ratios.items()}


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
        starts[label] = (floor, partial(scenario.runner.start, floor, env=env), [_floor_event(route)])
    for name, events in sorted(http_function_events(scenario).items()):
        if only is not None and name not in only:
            continue
        starts[name] = (scenario.functions[name], partial(scenario.start, name), events[:1])
    if only is None or "turnWorker" in only:
        # The worker's init, then a record it only logs (a real turn's cost is `python -m bench.turns`).
        record = json.loads((EVENTS / "sqs_fifo.json").read_text())["Records"][0]
        ignored = {"Records": [{**record, "body": json.dumps({"type": "bench-noop"})}]}
        worker = scenario.functions["turnWorker"]
        starts[WORKER_COLD] = (worker, partial(scenario.start, "turnWorker"), [ignored])
        # SnapStart: init, the hooks before the snapshot, then the restore (after-restore hooks) and the same record.
        starts[WORKER_RESTORED] = (worker, partial(scenario.start, "turnWorker", snapstart=True), [ignored])
    table = _table(starts, cold_runs, arch)
    if instructions:
        table += "\n\n" + instruction_table(starts)
    return table


def _table(starts: Starts, cold_runs: int, arch: str) -> str:
    """Each round starts every function once, each between two starts of the psycopg floor.

    A function's ratio is the median over the rounds of its span against the mean of the two floor
    starts around it, so a drift in the machine's speed over the run (one run put functions of the
    same shape anywhere from 0.86x to 1.36x against the floors' median over the run) weighs on both
    sides of each ratio. What pairing cannot remove is the noise of each start (paired ratios of one
    function from 0.88x to 1.55x on this machine): only more rounds narrow that.
    """
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label in starts}
    paired: dict[str, list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]] = {label: [] for label in starts}

    def cold(label: str) -> dict[str, Any]:
        _, start, events = starts[label]
        return start(events)

    functions = [label for label in starts if label not in FLOORS]
    for _ in range(cold_runs):
        before = cold(FLOORS_SELECT)
        runs[FLOORS_SELECT].append(before)
        for index, label in enumerate(functions):
            run = cold(label)
            after = cold(FLOORS_SELECT)
            _check([run, after], label)
            runs[label].append(run)
            runs[FLOORS_SELECT].append(after)
            paired[label].append((run, before, after))
            before = after
            if index % FLOOR_EVERY == 0:
                runs[FLOOR_BARE].append(cold(FLOOR_BARE))
    rows = []
    base = _measure(runs[FLOORS_SELECT], FLOORS_SELECT)
    for label, (function, _, _) in starts.items():
        stats = _measure(runs[label], label)
        if label in FLOORS:
            ratios = {key: stats[key] / base[key] for key in ("init_ms", "init_cpu_ms", "cold_ms", "cold_cpu_ms")}
        else:
            ratios = _paired(paired[label])
        rows.append((label, ", ".join(function.layers), _size_mb(function, arch), stats, ratios))
    lines = [
        f"python 3.12 ({find_python312()}), artefact of the {arch} locks run as this machine's build; "
        f"median of {cold_runs} fresh processes, each function started between two starts of the psycopg floor "
        f"({len(runs[FLOORS_SELECT])} in all), its ratios the median of its own to their mean. "
        "init = the import of the handler module, what Lambda reports as Init Duration (for a SnapStart "
        "restore: its after-restore hooks; the init ran before the snapshot); "
        f"the target is init <= {INIT_TARGET}x the psycopg floor's. cold = init + the first invocation. "
        "CPU = the process's CPU time over the same span (steadier than wall time on a shared machine).",
        "",
        f"| function | layers | unzipped MB | init ms | x floor (init) | target <= {INIT_TARGET}x | x floor (init CPU) "
        "| first invoke ms | cold ms | x floor (cold) | x floor (cold CPU) | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, layers, size, stats, ratios in rows:
        verdict = "" if name in FLOORS or name in (WORKER_COLD, WORKER_RESTORED) else _verdict(ratios["init_ms"])
        lines.append(
            f"| {name} | {layers} | {size:.1f} | {stats['init_ms']:.0f} | {ratios['init_ms']:.2f} | {verdict} | "
            f"{ratios['init_cpu_ms']:.2f} | {stats['first_ms']:.0f} | {stats['cold_ms']:.0f} | "
            f"{ratios['cold_ms']:.2f} | {ratios['cold_cpu_ms']:.2f} | {stats['rss_mb']:.0f} |"
        )
    return "\n".join(lines)


def _verdict(init_ratio: float) -> str:
    return "ok" if init_ratio <= INIT_TARGET else "MISSED"


def instruction_table(starts: Starts) -> str:
    """Each HTTP function's and floor's init and cold start in instructions, under callgrind.

    init: a process that imports the handler and invokes nothing; cold: one that also answers the first
    event (process start to first answer). One process each (the count repeats; time does not), two at a
    time. The worker is left out: under valgrind its LiteLLM import alone runs for minutes.
    """
    from bench import instructions

    if not instructions.available():
        return "skipped: valgrind is not installed (apt-get install valgrind)"
    labels = [label for label in starts if label not in (WORKER_COLD, WORKER_RESTORED)]

    def count(job: tuple[str, bool]) -> int:
        label, with_event = job
        _, start, events = starts[label]
        report = start(events if with_event else [], wrapper=instructions.CALLGRIND)
        total = instructions.collected(report["stderr"])
        if total is None or "error" in report:
            raise SystemExit(f"{label}: callgrind printed no total:\n{report['stderr'][-2000:]}")
        return total

    jobs = [(label, with_event) for label in labels for with_event in (False, True)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        counts = dict(zip(jobs, pool.map(count, jobs), strict=True))
    init_floor, cold_floor = counts[(FLOORS_SELECT, False)], counts[(FLOORS_SELECT, True)]
    lines = [
        "| function | init, instructions | x psycopg floor (init) | cold start, instructions "
        "| x psycopg floor (cold) |",
        "|---|---|---|---|---|",
    ]
    for label in labels:
        init, cold = counts[(label, False)], counts[(label, True)]
        lines.append(f"| {label} | {init:,} | {init / init_floor:.2f} | {cold:,} | {cold / cold_floor:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.artefact")
    parser.add_argument("--cold-runs", type=int, default=7)
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
