"""Start one function the way Lambda's python3.12 runtime does, from an unpacked artefact.

Run by a Python 3.12 as a script, in a fresh process: ``python3.12 -s lambda_bootstrap.py SPEC.json``.
SPEC names the read-only task and opt folders, the runtime's own packages (boto3), the handler,
the events to invoke it with, and where to write the result; with ``snapstart``, the SnapStart
hooks the handler registers run between init and the first invocation, as around a snapshot.
Standard library only until the handler is imported; every source file compiled at import is
recorded (``SourceFileLoader.source_to_code`` is wrapped before anything else is imported), so a
caller can assert that the artefact's bytecode was used.
"""

import time

STARTED = time.perf_counter()
STARTED_CPU = time.process_time()

import importlib  # noqa: E402
import importlib.machinery  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import secrets  # noqa: E402
import sys  # noqa: E402
import traceback  # noqa: E402

COMPILED: list[str] = []
_source_to_code = importlib.machinery.SourceFileLoader.source_to_code


def _recording_source_to_code(self, data, path, *, _optimize=-1):  # type: ignore[no-untyped-def]
    COMPILED.append(str(path))
    return _source_to_code(self, data, path, _optimize=_optimize)


importlib.machinery.SourceFileLoader.source_to_code = _recording_source_to_code  # type: ignore[method-assign]


class Context:
    """The attributes of the runtime's LambdaContext that Powertools and Mangum read."""

    def __init__(self, name: str, memory: int) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        self.aws_request_id = secrets.token_hex(16)
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "smoke"
        self._deadline = time.monotonic() + 60

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


class SnapshotRestore:
    """A stand-in for the runtime's ``snapshot_restore_py`` (Lambda's python3.12 runtime ships it, the
    layers do not): the hooks a handler registers at import, called as Lambda calls them around a snapshot."""

    def __init__(self) -> None:
        self.before: list[tuple[object, tuple[object, ...], dict[str, object]]] = []
        self.after: list[tuple[object, tuple[object, ...], dict[str, object]]] = []

    def module(self) -> object:
        import types

        module = types.ModuleType("snapshot_restore_py")
        module.register_before_snapshot = lambda f, *a, **k: self.before.append((f, a, k))  # type: ignore[attr-defined]
        module.register_after_restore = lambda f, *a, **k: self.after.append((f, a, k))  # type: ignore[attr-defined]
        return module

    @staticmethod
    def run(hooks: list[tuple[object, tuple[object, ...], dict[str, object]]]) -> None:
        for hook, args, kwargs in hooks:
            hook(*args, **kwargs)  # type: ignore[operator]


def _lambda_sys_path(task: str, opt: str, runtime: str) -> None:
    """sys.path as the python3.12 runtime has it: the task, the layers, then the runtime's packages."""
    stdlib = [p for p in sys.path if "site-packages" not in p and p and p != os.path.dirname(__file__)]
    sys.path[:] = [task, f"{opt}/python/lib/python3.12/site-packages", f"{opt}/python", runtime, *stdlib]


def _not_from_bytecode(roots: tuple[str, ...]) -> list[str]:
    """Modules under ``roots`` whose code did not come from a 3.12 pyc that exists next to them."""
    missing = []
    for name, module in list(sys.modules.items()):
        spec = getattr(module, "__spec__", None)
        origin = getattr(spec, "origin", None) or ""
        if not origin.startswith(roots) or not origin.endswith(".py"):
            continue  # sourceless .pyc, extension module, namespace package, or not ours
        cached = getattr(spec, "cached", None)
        if not cached or not os.path.exists(cached):
            missing.append(name)
    return missing


def _peak_rss_mb() -> float:
    """This process's high-water RSS (VmHWM; ru_maxrss would carry over the forking parent's across exec)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    spec = json.loads(open(sys.argv[1]).read())  # noqa: SIM115
    _lambda_sys_path(spec["task"], spec["opt"], spec["runtime"])
    os.chdir(spec["task"])
    result: dict[str, object] = {"invocations": []}
    snapshot = SnapshotRestore()
    if spec.get("snapstart"):
        sys.modules["snapshot_restore_py"] = snapshot.module()  # type: ignore[assignment]
    try:
        module_name, _, attribute = spec["handler"].rpartition(".")
        module = importlib.import_module(module_name.replace("/", "."))
        handler = getattr(module, attribute)
        result["init_ms"] = (time.perf_counter() - STARTED) * 1000
        result["init_cpu_ms"] = (time.process_time() - STARTED_CPU) * 1000
        if spec.get("snapstart"):
            # SnapStart, simulated in this process: the hooks run before the snapshot, then the restore's
            # after-restore hooks; what a restored environment pays is those plus its first invocation.
            result["hooks"] = [len(snapshot.before), len(snapshot.after)]
            SnapshotRestore.run(snapshot.before)
            restored, restored_cpu = time.perf_counter(), time.process_time()
            SnapshotRestore.run(snapshot.after)
            result["restore_ms"] = (time.perf_counter() - restored) * 1000
            result["restore_cpu_ms"] = (time.process_time() - restored_cpu) * 1000
        for event in spec["events"]:
            # The runtime sets the trace header of each invocation in the environment.
            os.environ["_X_AMZN_TRACE_ID"] = (
                f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)};Parent={secrets.token_hex(8)};Sampled=1"
            )
            began, began_cpu = time.perf_counter(), time.process_time()
            response = handler(event, Context(spec["function_name"], spec.get("memory", 512)))
            result["invocations"].append(  # type: ignore[attr-defined]
                {
                    "ms": (time.perf_counter() - began) * 1000,
                    "cpu_ms": (time.process_time() - began_cpu) * 1000,
                    "response": response,
                }
            )
    except BaseException:  # reported to the caller, like the runtime's init / invoke error
        result["error"] = traceback.format_exc()
    result["compiled"] = COMPILED
    result["not_from_bytecode"] = _not_from_bytecode((spec["task"], spec["opt"]))
    result["litellm_loaded"] = "litellm" in sys.modules
    result["pydantic_v1_loaded"] = "pydantic.v1" in sys.modules
    result["peak_rss_mb"] = _peak_rss_mb()
    with open(spec["out"], "w") as out:
        json.dump(result, out, default=str)
    # Lambda discards an environment without the interpreter's teardown (a full collection of what init
    # built, module finalizers); so does this process, and an instruction count under callgrind stops here.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
