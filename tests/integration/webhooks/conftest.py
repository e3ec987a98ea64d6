"""Webhooks tier: real handlers, Postgres, moto SQS, and a receiver on 127.0.0.1 in a thread."""

from __future__ import annotations

import importlib
import json
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
import pytest

from local_runtime.aws import sqs_client
from local_runtime.queues import sqs_event
from tests.integration.api.conftest import Member, api, make_org, make_user  # noqa: F401  (shared fixtures)
from tests.support.aio import use_container_loop
from tests.support.api import LambdaApi
from tests.support.lambda_events import FakeLambdaContext, load_event
from tests.support.sql import authenticate_as


@dataclass(frozen=True)
class Received:
    """One request the receiver got: lower-cased headers and the raw body bytes."""

    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A webhook receiver: records every POST and answers with the queued statuses, then ``default``."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    statuses: deque[int] = field(default_factory=deque)
    default: int = 200

    def answer(self, *statuses: int) -> None:
        self.statuses.extend(statuses)


class _Handler(BaseHTTPRequestHandler):
    receiver: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        self.receiver.requests.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
        status = self.receiver.statuses.popleft() if self.receiver.statuses else self.receiver.default
        answer = b'{"received": true}' if status < 300 else b"receiver is down"
        self.send_response(status)
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    received = Receiver()
    handler = type("Handler", (_Handler,), {"receiver": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    received.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/ca"
    yield received
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


class EventsQueue:
    """The events queue in moto, seen from one test: only messages for the test's own events."""

    def __init__(self, aws: Any) -> None:
        self.sqs = sqs_client(aws.endpoint)
        self.queue = aws.queues["EventsQueue"]
        self.dead_letters = aws.queues["EventsDeadLetterQueue"]

    def receive(self, *event_ids: uuid.UUID, dead: bool = False) -> list[dict[str, Any]]:
        """Receive every visible message; return the ones for ``event_ids``, delete the rest."""
        queue, wanted, mine = (self.dead_letters if dead else self.queue), {str(e) for e in event_ids}, []
        while batch := self.sqs.receive_message(
            QueueUrl=queue.url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
        ).get("Messages", []):
            for message in batch:
                if json.loads(message["Body"]).get("event_id") in wanted:
                    mine.append(message)
                else:
                    self.sqs.delete_message(QueueUrl=queue.url, ReceiptHandle=message["ReceiptHandle"])
        return mine

    def event(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """The ``aws:sqs`` event Lambda would deliver for ``messages``."""
        return sqs_event(messages, self.queue)

    def settle(self, messages: list[dict[str, Any]], result: dict[str, Any]) -> None:
        """Delete what the worker processed, as the event source mapping does."""
        failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        for message in messages:
            if message["MessageId"] not in failed:
                self.sqs.delete_message(QueueUrl=self.queue.url, ReceiptHandle=message["ReceiptHandle"])

    def make_visible(self, message: dict[str, Any]) -> None:
        """End a message's backoff now, as the passing of time would."""
        self.sqs.change_message_visibility(
            QueueUrl=self.queue.url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )


@pytest.fixture
def events_queue(aws: Any, app_env: dict[str, str]) -> EventsQueue:
    return EventsQueue(aws)


def _invoker(module_name: str, function: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    module = importlib.import_module(module_name)

    def _invoke(event: dict[str, Any]) -> dict[str, Any]:
        use_container_loop()
        return dict(module.handler(event, FakeLambdaContext(function)))

    return _invoke


@pytest.fixture
def dispatch(app_env: dict[str, str]) -> Callable[[], dict[str, Any]]:
    """Run the dispatch cron once, with the canonical EventBridge scheduled event."""
    invoke = _invoker("functions.crons.dispatch_events.handler", "dispatchEvents")
    return lambda: invoke(load_event("eventbridge_scheduled.json"))


@pytest.fixture
def deliver(app_env: dict[str, str]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The delivery worker's Lambda handler."""
    return _invoker("functions.workers.event_delivery.handler", "eventDelivery")


@pytest.fixture
def emit_event(database_url: str) -> Callable[..., uuid.UUID]:
    """Commit an event through ``app.emit_event`` as the service path."""

    def _emit(organization_id: uuid.UUID, event_type: str, payload: dict[str, Any]) -> uuid.UUID:
        with psycopg.connect(database_url) as conn:
            authenticate_as(conn, None, role="service_role")
            row = conn.execute(
                "select app.emit_event(%s, %s, %s::jsonb)", (organization_id, event_type, json.dumps(payload))
            ).fetchone()
        assert row is not None
        return uuid.UUID(str(row[0]))

    return _emit


@pytest.fixture
def make_endpoint(api: LambdaApi) -> Callable[..., dict[str, Any]]:  # noqa: F811
    """Create an endpoint through the API as the organization's admin; the response holds the secret."""

    def _make(org: dict[str, Any], url: str, events: list[str] | None = None) -> dict[str, Any]:
        body = {"url": url, "events": events or ["lead.qualified"], "description": "CRM bridge"}
        response = api.call(
            "POST", f"/organizations/{org['id']}/webhook-endpoints", token=org["admin"].token, body=body
        )
        assert response.status == 201, response.body
        created: dict[str, Any] = response.json()
        return created

    return _make


__all__ = ["Member", "Received", "Receiver"]
