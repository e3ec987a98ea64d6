"""A sampled X-Ray invocation, as in Lambda: the real SDK with a facade segment, emitting to a UDP daemon.

Each case runs the handler in a fresh interpreter with Lambda's environment (so the SDK's
``LambdaContext`` hands out read-only facade segments) and a local UDP socket as the daemon,
then reads what was emitted: the invocation succeeds and the annotations sit on subsegments.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.integration.worker.conftest import Tenant, sqs_event
from tests.support.lambda_events import http_event, load_event
from tests.support.tokens import hs256_token

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def daemon() -> Iterator[socket.socket]:
    """A UDP socket standing in for the X-Ray daemon."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    yield sock
    sock.close()


def invoke_sampled(
    app_env: dict[str, str], daemon: socket.socket, module: str, events: list[dict[str, Any]], tmp_path: Path
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run ``module``'s handler on ``events`` as sampled invocations; (results, emitted entities)."""
    env = {k: v for k, v in os.environ.items() if k != "POWERTOOLS_TRACE_DISABLED"}
    env.update({k: v for k, v in app_env.items() if k != "POWERTOOLS_TRACE_DISABLED"})
    env.update(
        LAMBDA_TASK_ROOT=str(tmp_path),
        AWS_LAMBDA_FUNCTION_NAME="conversion-agents-test-fn",
        AWS_XRAY_DAEMON_ADDRESS=f"127.0.0.1:{daemon.getsockname()[1]}",
        POWERTOOLS_TRACER_CAPTURE_RESPONSE="false",
        PYTHONPATH=str(REPO),
    )
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.sampled_lambda", module, "conversion-agents-test-fn"],
        input=json.dumps(events),
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "FacadeSegmentMutationException" not in done.stderr
    # stdout also carries EMF metric lines; the driver's lines are the ones with "ok"
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    results = [line for line in lines if "ok" in line]
    return results, _emitted(daemon)


def _emitted(daemon: socket.socket) -> list[dict[str, Any]]:
    """Every entity the SDK sent (each datagram is a JSON header line, then the entity), flattened."""
    entities: list[dict[str, Any]] = []
    while True:
        try:
            datagram = daemon.recv(65536)
        except BlockingIOError:
            break
        _header, _, body = datagram.decode().partition("\n")
        stack = [json.loads(body)]
        while stack:
            entity = stack.pop()
            entities.append(entity)
            stack.extend(entity.get("subsegments") or [])
    return entities


def _annotated(entities: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return [e for e in entities if key in (e.get("annotations") or {})]


def test_a_sampled_http_request_answers_and_annotates_a_subsegment(
    tenant: Tenant, app_env: dict[str, str], daemon: socket.socket, tmp_path: Path
) -> None:
    # given an owner of an organization and a sampled GET /organizations/{id}/agents
    user = uuid.uuid4()
    with psycopg.connect(tenant.url, autocommit=True) as conn:
        conn.execute("insert into auth.users (id, email) values (%s, %s)", (user, f"{user.hex[:8]}@example.com"))
        conn.execute(
            "insert into public.memberships (organization_id, user_id, role) values (%s, %s, 'owner')",
            (tenant.org, user),
        )
    path = f"/organizations/{tenant.org}/agents"
    token = hs256_token(app_env["SUPABASE_JWT_SECRET"], user)
    event = http_event("GET", path, token=token, route_key="GET /organizations/{organization_id}/agents")
    # when the function runs it twice (cold, then warm), each a sampled invocation
    results, entities = invoke_sampled(
        app_env, daemon, "functions.agents.list_agents.handler", [event, event], tmp_path
    )
    # then both answer 200 (a sampled trace never turns a request into a 5xx)
    assert [r["result"]["statusCode"] for r in results] == [200, 200], results
    # and the organization is annotated on the request's subsegment, once per invocation, never on a segment
    annotated = _annotated(entities, "organization_id")
    assert [e["annotations"]["organization_id"] for e in annotated] == [str(tenant.org)] * 2
    assert {e["name"] for e in annotated} == {"## request"}
    assert all(e.get("type") == "subsegment" for e in annotated)
    assert sorted(e["annotations"]["ColdStart"] for e in annotated) == [False, True]


def test_an_http_function_traces_its_outbound_calls_patched_at_first_use(
    app_env: dict[str, str], daemon: socket.socket, tmp_path: Path
) -> None:
    # given the health function, which calls Upstash through httpx (patched where the client is built,
    # after init: HTTP functions patch nothing at import)
    event = http_event("GET", "/health", route_key="GET /health")
    # when it answers a sampled request
    results, entities = invoke_sampled(app_env, daemon, "functions.health.handler", [event], tmp_path)
    # then it answered, and the call to Upstash is a remote subsegment inside the request's
    assert results[0]["result"]["statusCode"] == 200, results
    remote = [e for e in entities if e.get("namespace") == "remote"]
    assert remote, [e.get("name") for e in entities]
    assert {e["name"] for e in remote} == {"127.0.0.1"}


def test_a_sampled_turn_completes_and_annotates_the_handler_subsegment(
    tenant: Tenant, app_env: dict[str, str], daemon: socket.socket, tmp_path: Path
) -> None:
    # given a lead message waiting for its turn
    conversation = tenant.conversation()
    message = tenant.lead_says(conversation, "Oi, meu nome é Ana e quero ver um apartamento")
    # when the turn worker handles it as a sampled invocation
    results, entities = invoke_sampled(
        app_env, daemon, "functions.workers.turn_worker.handler", [sqs_event((conversation, message))], tmp_path
    )
    # then the turn succeeded: no failed item, and the bot replied
    assert results == [{"ok": True, "result": {"batchItemFailures": []}}]
    replies = tenant.query("select count(*) as n from public.messages where reply_to = %s", message)
    assert replies[0]["n"] == 1
    # and the organization is annotated on Powertools' handler subsegment
    annotated = _annotated(entities, "organization_id")
    assert [e["name"] for e in annotated] == ["## handler"]
    assert annotated[0]["annotations"]["organization_id"] == str(tenant.org)
    assert annotated[0]["type"] == "subsegment"


def test_a_sampled_cron_run_succeeds_inside_its_handler_subsegment(
    app_env: dict[str, str], daemon: socket.socket, tmp_path: Path
) -> None:
    # given the EventBridge schedule event
    event = load_event("eventbridge_scheduled.json")
    # when the sweep cron runs as a sampled invocation
    results, entities = invoke_sampled(app_env, daemon, "functions.crons.sweep_turns.handler", [event], tmp_path)
    # then it returns its summary, and its work was traced in the handler's subsegment
    assert results[0]["ok"], results
    assert set(results[0]["result"]) == {
        "released_reservations",
        "requeued_messages",
        "requeued_sends",
        "purged_idempotency_keys",
    }
    handler = [e for e in entities if e.get("name") == "## handler"]
    assert len(handler) == 1
    assert handler[0]["annotations"]["ColdStart"] is True
