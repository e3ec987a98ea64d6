"""Invoke one handler as a sampled X-Ray invocation in Lambda would run it, in a fresh interpreter.

``python -m tests.support.sampled_lambda <module> <function name>`` reads a JSON list of events
on stdin and prints one JSON result per line. The parent sets the Lambda environment
(``LAMBDA_TASK_ROOT``, ``AWS_LAMBDA_FUNCTION_NAME``, ``AWS_XRAY_DAEMON_ADDRESS``) before this
interpreter imports anything, so the real X-Ray SDK builds its Lambda context (facade
segments) exactly as on AWS; each invocation gets its own sampled ``_X_AMZN_TRACE_ID``, as
Lambda sets it per invocation.
"""

from __future__ import annotations

import importlib
import json
import os
import secrets
import sys
import time
from typing import Any

from tests.support.lambda_events import FakeLambdaContext


def sampled_trace_header() -> str:
    """A fresh sampled trace header in Lambda's format."""
    root = f"1-{int(time.time()):08x}-{secrets.token_hex(12)}"
    return f"Root={root};Parent={secrets.token_hex(8)};Sampled=1"


def main(module_name: str, function_name: str) -> None:
    events: list[dict[str, Any]] = json.load(sys.stdin)
    handler = importlib.import_module(module_name).handler  # init, outside any invocation
    for event in events:
        os.environ["_X_AMZN_TRACE_ID"] = sampled_trace_header()
        try:
            result = handler(event, FakeLambdaContext(function_name))
            print(json.dumps({"ok": True, "result": result}, default=str), flush=True)
        except Exception as exc:  # the parent asserts on it
            print(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
