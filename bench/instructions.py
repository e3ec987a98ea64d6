"""Instructions per warm request, counted by valgrind's callgrind: a figure the machine's other load does not move.

Wall and CPU time on a shared 2-core machine swing with whatever else runs; an instruction count of the same
code, inputs and interpreter is repeatable. Each function runs twice under callgrind in a fresh interpreter,
with ``FEW`` and ``MANY`` warm requests after its cold one; the difference of the two totals over the
difference in requests is what one warm request costs this process (the import and the cold request cancel
out). The database and Redis servers run in their own processes and are not counted: this is the Python side.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

FEW, MANY = 40, 120
# The hash seed pinned: set and dict orders, and so the count, are the same from one run to the next.
CALLGRIND = ("env", "PYTHONHASHSEED=0", "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null")
_COLLECTED = re.compile(r"Collected : (\d+)")


def available() -> bool:
    """Whether valgrind is installed (the Debian package ``valgrind``)."""
    return shutil.which("valgrind") is not None


def per_request(payload: dict[str, Any], env: dict[str, str], repo: Path) -> float:
    """Instructions one warm request of ``payload``'s function costs this process (``bench.invoke``'s case JSON)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        few, many = pool.map(lambda n: _total(payload, env, repo, n), (FEW, MANY))
    return (many - few) / (MANY - FEW)


def collected(stderr: str) -> int | None:
    """The total callgrind printed on a process's stderr, or None."""
    found = _COLLECTED.search(stderr)
    return int(found.group(1)) if found else None


def _total(payload: dict[str, Any], env: dict[str, str], repo: Path, iterations: int) -> int:
    out = subprocess.run(
        [*CALLGRIND, sys.executable, "-m", "bench.invoke", json.dumps(payload), str(iterations)],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    total = collected(out.stderr)
    if out.returncode != 0 or total is None:
        raise SystemExit(f"callgrind run failed ({payload['name']}):\n{out.stderr[-3000:]}")
    return total
