"""Run inside a fresh interpreter: import one function, invoke it, report timings as JSON.

Usage: python -m bench.invoke <case-json> <warm-iterations>
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import uuid  # noqa: E402
from typing import Any  # noqa: E402


def api_event(case: dict[str, Any], token: str | None) -> dict[str, Any]:
    headers = {"content-type": "application/json", "user-agent": "bench", **(case.get("headers") or {})}
    if token:
        headers["authorization"] = f"Bearer {token}"
    path, _, query = case["path"].partition("?")
    return {
        "version": "2.0",
        "routeKey": case["route_key"],
        "rawPath": path,
        "rawQueryString": query,
        "queryStringParameters": dict(p.split("=", 1) for p in query.split("&") if "=" in p) or None,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench",
            "domainName": "localhost",
            "domainPrefix": "localhost",
            "http": {
                "method": case["method"],
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "bench",
            },
            "requestId": uuid.uuid4().hex,
            "routeKey": case["route_key"],
            "stage": "$default",
            "time": "25/Nov/2026:00:00:00 +0000",
            "timeEpoch": 0,
        },
        "body": json.dumps(case["body"]) if case.get("body") is not None else None,
        "isBase64Encoded": False,
    }


class _Context:
    function_name = "bench"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def main() -> None:
    case = json.loads(sys.argv[1])
    iterations = int(sys.argv[2])
    token = case.get("token")
    import importlib

    module = importlib.import_module(case["module"])
    imported = time.perf_counter()
    first = module.handler(api_event(case, token), _Context())
    cold_done = time.perf_counter()
    samples, cpu = [], []
    for _ in range(iterations):
        event = api_event(case, token)
        t0, c0 = time.perf_counter(), time.process_time()
        result = module.handler(event, _Context())
        samples.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        if result["statusCode"] >= 500:
            raise SystemExit(f"{case['name']}: {result['statusCode']} {result.get('body')}")
    print(
        json.dumps(
            {
                "import_ms": (imported - STARTED) * 1000,
                "cold_ms": (cold_done - STARTED) * 1000,
                "first_status": first["statusCode"],
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "warm_s": samples,
                "warm_cpu_s": cpu,  # this process's CPU time: what the machine's other load does not add
                "litellm_loaded": "litellm" in sys.modules,
            }
        )
    )


if __name__ == "__main__":
    main()
