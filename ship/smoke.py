"""Run functions from the unpacked artefact in fresh Python 3.12 processes, as Lambda would.

Used by ``tests/artefact`` (does every handler start and answer?) and ``bench.artefact`` (how fast?).
Each function gets a read-only ``task`` folder and shares a read-only ``opt`` folder with the
functions that list the same layers; ``build/runtime`` stands for the runtime's own boto3.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ship import artefact
from ship.build import BUILD, REPO, find_python312, host_arch

BOOTSTRAP = REPO / "ship" / "lambda_bootstrap.py"


def lambda_environment(
    function: artefact.Function,
    *,
    task: Path,
    queues: dict[str, str],
    overrides: dict[str, str],
    aws: dict[str, str],
    xray_port: int,
) -> dict[str, str]:
    """The variables Lambda sets, plus the function's own from the template (queue ``Ref``s resolved)."""
    env: dict[str, str] = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
        "LAMBDA_TASK_ROOT": str(task),
        "LAMBDA_RUNTIME_DIR": str(BUILD / "runtime"),
        # Active tracing: the daemon's address and what to do outside a segment, as Lambda sets them.
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{xray_port}",
        "_AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1",
        "_AWS_XRAY_DAEMON_PORT": str(xray_port),
        **aws,
    }
    for key, value in function.environment.items():
        if isinstance(value, dict) and "Ref" in value:
            env[key] = queues[value["Ref"]]
        else:
            env[key] = str(value)
    env.update(overrides)
    return env


@dataclass
class Runner:
    """Lays functions out once under a temporary folder and starts them on demand."""

    arch: str = field(default_factory=host_arch)
    python312: Path = field(default_factory=find_python312)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="ca-artefact-")))
    _opts: dict[tuple[str, ...], Path] = field(default_factory=dict)
    _tasks: dict[str, Path] = field(default_factory=dict)

    def layout(self, function: artefact.Function) -> tuple[Path, Path]:
        if function.name not in self._tasks:
            task = self.root / "task" / function.name
            artefact.extract(function.zip, task)
            artefact.make_read_only(task)
            self._tasks[function.name] = task
        if function.layers not in self._opts:
            opt = self.root / "opt" / "+".join(function.layers)
            for layer in function.layer_zips(self.arch):
                artefact.extract(layer, opt)
            artefact.make_read_only(opt)
            self._opts[function.layers] = opt
        return self._tasks[function.name], self._opts[function.layers]

    def start(
        self,
        function: artefact.Function,
        events: list[dict[str, Any]],
        env: dict[str, str],
        snapstart: bool = False,
        wrapper: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Import the handler in a fresh 3.12 process and invoke it with each event; the bootstrap's report.

        ``snapstart``: run the SnapStart hooks the handler registers (a restore, simulated) before the events.
        ``wrapper``: a command the process runs under (valgrind, for the bench's instruction counts).
        """
        task, opt = self.layout(function)
        # Its own files per start: starts of one function may run side by side (the bench's callgrind counts).
        start_id = secrets.token_hex(6)
        spec = self.root / f"{function.name}.{start_id}.spec.json"
        out = self.root / f"{function.name}.{start_id}.out.json"
        spec.write_text(
            json.dumps(
                {
                    "task": str(task),
                    "opt": str(opt),
                    "runtime": str(BUILD / "runtime"),
                    "handler": function.handler,
                    "function_name": function.name,
                    "events": events,
                    "out": str(out),
                    "snapstart": snapstart,
                }
            )
        )
        proc = subprocess.run(
            [*wrapper, str(self.python312), "-s", str(BOOTSTRAP), str(spec)],
            env=env,
            cwd=task,
            capture_output=True,
            text=True,
            timeout=1800 if wrapper else 300,
            check=False,
        )
        if not out.exists():
            raise RuntimeError(f"{function.name} died (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
        report: dict[str, Any] = json.loads(out.read_text())
        spec.unlink()
        out.unlink()
        report["stdout"] = proc.stdout
        report["stderr"] = proc.stderr
        return report

    def close(self) -> None:
        if self.root.exists():
            artefact.make_writable(self.root)
            shutil.rmtree(self.root, ignore_errors=True)
