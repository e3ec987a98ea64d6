#!/usr/bin/env python3
"""Set up and run Conversion Agents with nothing but Python 3.11+.

    python3 scripts/dev.py up      # install, start Postgres/Redis/bridge, serve the API on :3000
    python3 scripts/dev.py test    # install, then ruff + mypy + every test tier
    python3 scripts/dev.py bench   # install, then print the benchmark table
    python3 scripts/dev.py package # install, then build the layers and `serverless package` into build/

The virtualenv (.venv) is installed from requirements/dev.txt with --require-hashes
and reinstalled only when that lock file changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV = Path(os.environ.get("CA_VENV", REPO / ".venv"))
LOCK = REPO / "requirements" / "dev.txt"
BIN = VENV / "bin"


def _run(*cmd: str | Path, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], cwd=REPO, check=True, env=env)


def setup() -> None:
    """Create .venv and install the locked dependencies, once per lock-file change."""
    if sys.version_info < (3, 11):
        sys.exit(f"Python 3.11+ is required (this is {sys.version.split()[0]})")
    stamp = VENV / ".lock-sha256"
    digest = hashlib.sha256(LOCK.read_bytes() + (REPO / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    if not (BIN / "python").exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    pip = (BIN / "python", "-m", "pip")
    packages = sum(1 for line in LOCK.read_text().splitlines() if line and not line[0].isspace() and "==" in line)
    # The first install takes a few minutes: pip prints a line per package, so progress is visible.
    print(f"installing {packages} locked packages into {VENV} (the first time takes a few minutes)", flush=True)
    _run(*pip, "install", "--progress-bar", "off", "--disable-pip-version-check", "--require-hashes", "-r", LOCK)
    _run(*pip, "install", "--quiet", "--disable-pip-version-check", "--no-deps", "--no-build-isolation", "-e", REPO)
    print("dependencies installed", flush=True)
    stamp.write_text(digest)


def _python(*args: str) -> None:
    os.chdir(REPO)
    os.execv(str(BIN / "python"), [str(BIN / "python"), *args])


def lint() -> None:
    """ruff (lint + format check) and mypy (strict on shared/)."""
    _run(BIN / "ruff", "check", "--no-cache", ".")
    _run(BIN / "ruff", "format", "--no-cache", "--check", ".")
    _run(BIN / "mypy", "shared", "functions", "local_runtime", "bench", "ship")


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else "up"
    rest = sys.argv[2:]
    setup()
    if command == "up":
        _python("-m", "local_runtime", "up", *rest)
    elif command == "test":
        lint()
        _python("-m", "pytest", *rest)
    elif command == "lint":
        lint()
    elif command == "bench":
        _python("-m", "bench", *rest)
    elif command == "package":
        _python("-m", "ship.build", *rest)
    elif command == "setup":
        return
    else:
        _python("-m", "local_runtime", command, *rest)


if __name__ == "__main__":
    main()
