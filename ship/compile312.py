"""Run by a Python 3.12: write the bytecode Lambda's python3.12 loads, without ever compiling at import.

    python3.12 ship/compile312.py ROOT RECORDED_AS [--keep-source PATH ...]

Every ``.py`` under ROOT becomes a sourceless ``.pyc`` in its place (the file is read by
``SourcelessFileLoader``, never checked against anything), except the paths given with
``--keep-source`` (our own code, for tracebacks with source lines, and libraries that read their
own source at run time): those keep the ``.py`` and get ``__pycache__/*.cpython-312.pyc`` written
with ``UNCHECKED_HASH`` invalidation, which the import system loads without looking at the source's
mtime (a zip extracted by Lambda does not keep it, and ``/opt`` is read-only so nothing is rewritten).
Code objects record the path Lambda will see (RECORDED_AS, e.g. ``/opt/python``).
Prints a JSON summary: files compiled, sources kept, files that 3.12 cannot compile.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import py_compile
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


def _compile(job: tuple[str, str, bool]) -> str | None:
    source, recorded, keep = job
    cfile = importlib.util.cache_from_source(source) if keep else source + "c"
    try:
        py_compile.compile(
            source,
            cfile=cfile,
            dfile=recorded,
            doraise=True,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )
    except py_compile.PyCompileError as exc:
        return f"{recorded}: {exc.exc_type_name}"
    if not keep:
        os.unlink(source)
    return None


def main() -> None:
    if sys.version_info[:2] != (3, 12):
        raise SystemExit(f"compile312 must run on Python 3.12, not {sys.version.split()[0]}")
    parser = argparse.ArgumentParser()
    parser.add_argument("root", type=Path)
    parser.add_argument("recorded_as")
    parser.add_argument("--keep-source", action="append", default=[])
    args = parser.parse_args()
    root: Path = args.root.resolve()
    kept = [root / p for p in args.keep_source]
    jobs = []
    for path in sorted(root.rglob("*.py")):
        keep = any(path == k or k in path.parents for k in kept)
        jobs.append((str(path), f"{args.recorded_as}/{path.relative_to(root)}", keep))
    with ProcessPoolExecutor() as pool:
        failures = [f for f in pool.map(_compile, jobs, chunksize=64) if f]
    print(
        json.dumps(
            {"compiled": len(jobs) - len(failures), "kept_source": sum(j[2] for j in jobs), "failures": failures}
        )
    )


if __name__ == "__main__":
    main()
