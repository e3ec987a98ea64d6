"""``python -m bench.whatsapp_webhook``: how fast the WhatsApp webhook acknowledges Meta, in-process.

Starts its own Postgres, Redis, Upstash bridge and moto SQS, connects one number, then posts
signed text deliveries (unique wamids, 200 leads) to the Lambda handler one after another,
as one warm container would receive them: each is verified, stored and its turn enqueued
before the handler returns. Prints p50/p99 of the acknowledgement and deliveries per second,
with moto's SQS, and with SQS stubbed out (moto answers in 10-50 ms; the webhook's own work
is the rest), plus replayed copies stopped by the Redis fast path.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

APP_SECRET = "bench-app-secret-8c1d0f7e2b"  # noqa: S105  (a throwaway secret for the local run)
PATH = "/webhooks/whatsapp"
PURGE_EVERY = 100


class _Context:
    function_name = "whatsappWebhook"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:whatsappWebhook"
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def _connect_number(database_url: str) -> str:
    """An organization, an agent and its WhatsApp number; returns the phone_number_id."""
    import psycopg

    org, agent, number = uuid.uuid4(), uuid.uuid4(), str(uuid.uuid4().int)[:15]
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("insert into public.organizations (id, name, slug) values (%s, 'Bench', %s)", (org, org.hex))
        conn.execute("insert into public.agents (id, organization_id, name) values (%s, %s, 'Bench')", (agent, org))
        conn.execute(
            "insert into public.agent_versions (organization_id, agent_id, version, config) values (%s, %s, 1, %s)",
            (org, agent, json.dumps({"persona": "Bench", "language": "pt-BR"})),
        )
        conn.execute(
            "insert into public.integrations (organization_id, kind, name, agent_id, external_id)"
            " values (%s, 'whatsapp', 'Bench', %s, %s)",
            (org, agent, number),
        )
    return number


def _event(phone_number_id: str, lead: int, sequence: int) -> dict[str, Any]:
    """An API Gateway v2 event carrying one signed text delivery, as Meta sends it."""
    from shared.whatsapp.signature import sign

    wa_id = f"551198{lead:07d}"
    message = {"from": wa_id, "id": f"wamid.bench{uuid.uuid4().hex}", "timestamp": str(int(time.time()))}
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": phone_number_id},
        "contacts": [{"profile": {"name": f"Lead {lead}"}, "wa_id": wa_id}],
        "messages": [{**message, "type": "text", "text": {"body": f"Ol\u00e1, mensagem {sequence}"}}],
    }
    entry = {"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}
    body = json.dumps({"object": "whatsapp_business_account", "entry": [entry]}, separators=(",", ":"))
    headers = {"content-type": "application/json", "x-hub-signature-256": sign(body.encode(), APP_SECRET)}
    http = {"method": "POST", "path": PATH, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "bench"}
    context = {"accountId": "123456789012", "apiId": "bench", "http": http, "requestId": uuid.uuid4().hex}
    return {
        "version": "2.0",
        "routeKey": f"POST {PATH}",
        "rawPath": PATH,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {**context, "routeKey": f"POST {PATH}", "stage": "$default", "timeEpoch": 0},
        "body": body,
        "isBase64Encoded": False,
    }


def _invoke(handler: Any, events: list[dict[str, Any]], between: Any = None) -> list[float]:
    """Time each event; ``between`` runs (untimed) every ``PURGE_EVERY`` events."""
    samples = []
    for index, event in enumerate(events):
        if between is not None and index % PURGE_EVERY == 0:
            between()
        started = time.perf_counter()
        result = handler(event, _Context())
        samples.append(time.perf_counter() - started)
        if result["statusCode"] != 200:
            raise SystemExit(f"webhook answered {result['statusCode']}: {result.get('body')}")
    return samples


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


class _InstantSqs:
    """Stands in for SQS to isolate the webhook's own cost (verify, parse, Redis, Postgres)."""

    def send_message(self, **_: Any) -> dict[str, str]:
        return {"MessageId": str(uuid.uuid4())}


def measure(phone_number_id: str, deliveries: int, leads: int, purge: Any) -> dict[str, Any]:
    """Warm up, then time new messages (moto SQS, then SQS stubbed) and replayed copies, sequentially."""
    from functions.webhooks.whatsapp.handler import handler
    from shared import jobs as queue

    def batch(count: int) -> list[dict[str, Any]]:
        return [_event(phone_number_id, i % leads, i) for i in range(count)]

    _invoke(handler, batch(50))
    events = batch(deliveries)
    # moto's FIFO send slows as the queue grows (real SQS does not): empty it, untimed, as the workers would.
    fresh = _invoke(handler, events, between=purge)
    copies = _invoke(handler, events[: deliveries // 4])
    real_sqs = vars(queue)["get_sqs"]
    vars(queue)["get_sqs"] = _InstantSqs
    try:
        local = _invoke(handler, batch(deliveries))
    finally:
        vars(queue)["get_sqs"] = real_sqs
    return {
        "rows": [
            ("new text message: verify, store, enqueue to moto SQS", fresh, len(fresh) / sum(fresh)),
            ("new text message, SQS stubbed (the webhook's own cost)", local, len(local) / sum(local)),
            ("replayed copy (Redis SET NX fast path)", copies, None),
        ]
    }


def table(result: dict[str, Any]) -> str:
    """The figures as a markdown table."""
    lines = ["| delivery | count | p50 ms | p99 ms | deliveries/s (sequential) |", "|---|---|---|---|---|"]
    for name, samples, rate in result["rows"]:
        per_second = f"{rate:.0f}" if rate else "-"
        lines.append(
            f"| {name} | {len(samples)} | {_pct(samples, 0.5):.2f} | {_pct(samples, 0.99):.2f} | {per_second} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.whatsapp_webhook")
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--leads", type=int, default=200)
    args = parser.parse_args()

    from local_runtime.aws import referenced_environment, sqs_client, start_aws
    from local_runtime.cli import services
    from local_runtime.gateway.routes import load_serverless

    config = load_serverless()
    with tempfile.TemporaryDirectory(prefix="ca-bench-wa-") as tmp, services(Path(tmp), port=0) as runtime:
        aws = start_aws(config, delay_seconds=0)
        try:
            os.environ.update(
                {
                    **runtime.environment(),
                    **aws.environment(),
                    **referenced_environment(config, aws.queues),
                    "WHATSAPP_APP_SECRET": APP_SECRET,
                    "WHATSAPP_VERIFY_TOKEN": "bench-verify-token",
                    "POWERTOOLS_LOG_LEVEL": "WARNING",
                }
            )
            number = _connect_number(runtime.database_url)
            print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus", file=sys.stderr)
            sqs, turns = sqs_client(aws.endpoint), aws.queues["TurnQueue"].url
            result = measure(number, args.deliveries, args.leads, lambda: _empty(sqs, turns))
            _close_clients()
        finally:
            aws.stop()
    print(table(result))


def _empty(sqs: Any, url: str) -> None:
    """Take every visible message off the queue (PurgeQueue is allowed once a minute)."""
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
        sqs.delete_message_batch(QueueUrl=url, Entries=entries)


def _close_clients() -> None:
    import asyncio

    from shared.lifecycle import close_clients

    asyncio.get_event_loop().run_until_complete(close_clients())


if __name__ == "__main__":
    main()
