"""SQS for the turn and knowledge queues: ``send_message``, and the container's boto3 client.

``send_message`` (what HTTP functions call) is one SigV4-signed ``SendMessage`` request
(``shared.sigv4``) when the role's credentials are in the environment, as in Lambda: no boto3 or
botocore import, and no service model loaded, in a request's path. Otherwise (a profile on a
laptop) it goes through the boto3 client, which workers and crons use for everything else (batch
sends, visibility changes). boto3 is imported on first use, so functions that never use it do not
pay for it at cold start. The client is thread-safe and not bound to an event loop, so one per
container is shared by every thread that ``asyncio.to_thread`` runs it in. boto3 and the signed
request read ``AWS_ENDPOINT_URL``, which is how tests and the local runtime reach moto.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from shared import sigv4
from shared.observability.telemetry import get_tracer, trace_calls

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

# A send either answers within a couple of seconds or the message waits for the requeue cron;
# botocore's defaults (60 s reads, legacy retries) would outlast the function's timeout.
CONNECT_TIMEOUT_SECONDS = 2
READ_TIMEOUT_SECONDS = 3
MAX_ATTEMPTS = 3
SQS = sigv4.JsonApi("sqs", "AmazonSQS", "application/x-amz-json-1.0")


class SqsError(Exception):
    """SQS refused a send or could not be reached."""


def send_message(queue_url: str, body: str, group_id: str, deduplication_id: str) -> str:
    """Send one message to the FIFO queue ``queue_url``; its MessageId, or ``SqsError``. Blocks (run it in a thread)."""
    credentials = sigv4.credentials_from_environment()
    if credentials is None:
        return _send_with_boto3(queue_url, body, group_id, deduplication_id)
    where = sigv4.region()
    payload = {
        "QueueUrl": queue_url,
        "MessageBody": body,
        "MessageGroupId": group_id,
        "MessageDeduplicationId": deduplication_id,
    }
    tracer = get_tracer()
    try:
        if tracer is None:
            answer = _signed_send(payload, credentials, where)
        else:  # the subsegment X-Ray's botocore patch would have recorded
            provider: Any = tracer.provider
            with provider.in_subsegment(name="SQS") as subsegment:
                if subsegment is not None:
                    subsegment.namespace = "aws"
                    subsegment.put_metadata("operation", "SendMessage", "aws")
                answer = _signed_send(payload, credentials, where)
    except sigv4.AwsCallError as exc:
        raise SqsError(f"SQS SendMessage: {exc}") from exc
    return str(answer.get("MessageId", ""))


def _signed_send(payload: dict[str, str], credentials: sigv4.Credentials, where: str) -> dict[str, object]:
    return sigv4.post_json(sigv4.endpoint(SQS.service, where), SQS, "SendMessage", payload, credentials, where)


def _send_with_boto3(queue_url: str, body: str, group_id: str, deduplication_id: str) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        answer = get_sqs().send_message(
            QueueUrl=queue_url, MessageBody=body, MessageGroupId=group_id, MessageDeduplicationId=deduplication_id
        )
    except (BotoCoreError, ClientError) as exc:
        raise SqsError(f"SQS SendMessage: {type(exc).__name__}") from exc
    return answer["MessageId"]


@lru_cache(maxsize=1)
def get_sqs() -> SQSClient:
    """Build the client once per container, in the region Lambda runs in."""
    trace_calls("botocore")
    import boto3
    from botocore.config import Config

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    config = Config(
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        retries={"max_attempts": MAX_ATTEMPTS, "mode": "standard"},
    )
    return boto3.client("sqs", region_name=region, config=config)


def close_sqs() -> None:
    """Close this container's client (its connection pool), if one was built."""
    if get_sqs.cache_info().currsize:
        get_sqs().close()
    get_sqs.cache_clear()
