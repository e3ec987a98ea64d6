"""Drive queue workers the way Lambda's SQS event source mapping does.

Messages are received from (moto) SQS, handed to the worker as an ``aws:sqs`` event,
deleted when processed, and left for redelivery when reported in
``batchItemFailures`` (after ``maxReceiveCount`` receives SQS moves them to the DLQ).
"""

from __future__ import annotations

import hashlib
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from local_runtime.aws import REGION, LocalQueue

Invoke = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True)
class QueueBinding:
    """One ``sqs`` event of one function in serverless.yml."""

    function: str
    queue: str  # the queue's logical id
    batch_size: int = 10


def bindings(config: dict[str, Any]) -> list[QueueBinding]:
    """Every function subscribed to a queue (``events: - sqs: {arn: !GetAtt Queue.Arn}``)."""
    found = []
    for name, fn in (config.get("functions") or {}).items():
        for event in fn.get("events") or []:
            sqs = event.get("sqs") if isinstance(event, dict) else None
            if not isinstance(sqs, dict):
                continue
            arn = sqs.get("arn")
            if isinstance(arn, dict) and isinstance(arn.get("Fn::GetAtt"), list):
                found.append(QueueBinding(name, str(arn["Fn::GetAtt"][0]), int(sqs.get("batchSize", 10))))
    return found


def sqs_event(messages: list[dict[str, Any]], queue: LocalQueue) -> dict[str, Any]:
    """The event Lambda delivers for ``messages`` received from ``queue``."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": dict(m.get("Attributes") or {}),
                "messageAttributes": {
                    k: {
                        "stringValue": v.get("StringValue"),
                        "binaryValue": v.get("BinaryValue"),
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": v.get("DataType", "String"),
                    }
                    for k, v in (m.get("MessageAttributes") or {}).items()
                },
                "md5OfBody": m.get("MD5OfBody") or hashlib.md5(m["Body"].encode(), usedforsecurity=False).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue.arn,
                "awsRegion": REGION,
            }
            for m in messages
        ]
    }


def deliver_batch(
    sqs: Any, queue: LocalQueue, invoke: Invoke, *, batch_size: int = 10, wait: int = 0, retry_now: bool = False
) -> int:
    """Receive one batch, invoke the worker, delete what it processed; the number received.

    ``retry_now`` makes failed messages visible again at once, as if their visibility timeout
    had passed (tests of redelivery and the DLQ, without waiting).
    """
    received = sqs.receive_message(
        QueueUrl=queue.url,
        MaxNumberOfMessages=batch_size,
        WaitTimeSeconds=wait,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
    ).get("Messages", [])
    if not received:
        return 0
    try:
        result = invoke(sqs_event(received, queue)) or {}
    except Exception:
        traceback.print_exc()  # the whole batch failed: everything is redelivered after the visibility timeout
        result = {"batchItemFailures": [{"itemIdentifier": m["MessageId"]} for m in received]}
    failed = {f["itemIdentifier"] for f in result.get("batchItemFailures") or []}
    done = [m for m in received if m["MessageId"] not in failed]
    if retry_now:
        for message in received:
            if message["MessageId"] in failed:
                sqs.change_message_visibility(
                    QueueUrl=queue.url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
    for start in range(0, len(done), 10):
        sqs.delete_message_batch(
            QueueUrl=queue.url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[start : start + 10])
            ],
        )
    return len(received)


def drain(sqs: Any, queue: LocalQueue, invoke: Invoke, *, batch_size: int = 10, max_batches: int = 1000) -> int:
    """Deliver batches until the queue has nothing visible; the number of messages delivered."""
    total = 0
    for _ in range(max_batches):
        count = deliver_batch(sqs, queue, invoke, batch_size=batch_size)
        if count == 0:
            break
        total += count
    return total


class QueuePoller:
    """A background thread that long-polls one queue for one function until stopped."""

    def __init__(self, sqs: Any, queue: LocalQueue, invoke: Invoke, batch_size: int = 10) -> None:
        self._args = (sqs, queue, invoke)
        self._batch_size = batch_size
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sqs-{queue.name}", daemon=True)

    def start(self) -> QueuePoller:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            deliver_batch(*self._args, batch_size=self._batch_size, wait=1)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def container_invoker(containers: Any, function: str) -> Invoke:
    """Invoke ``function`` in its warm container, as the event source mapping would."""
    return lambda event: containers.get(function).invoke_sync(event)


def start_pollers(config: dict[str, Any], aws: Any, containers: Any) -> list[QueuePoller]:
    """One poller per ``sqs`` event in serverless.yml, invoking its function's container."""
    from local_runtime.aws import sqs_client

    sqs = sqs_client(aws.endpoint)
    pollers = []
    for binding in bindings(config):
        queue = aws.queues[binding.queue]
        invoke = container_invoker(containers, binding.function)
        pollers.append(QueuePoller(sqs, queue, invoke, binding.batch_size).start())
    return pollers
