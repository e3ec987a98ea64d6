"""shared.clients.sqs.send_message: a SigV4-signed SendMessage (no boto3) with the role's credentials, boto3 without.

The signed request is botocore's to the byte that matters (its signature), and moto's SQS server takes it:
the FIFO group and deduplication ids arrive, a repeated deduplication id is dropped, a missing queue is refused.
"""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from shared import sigv4
from shared.clients import sqs

AT = datetime.datetime(2026, 12, 2, 9, 30, 0, tzinfo=datetime.UTC)


@pytest.fixture
def fifo(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Any]]:
    """A fresh FIFO queue on moto's server, with the environment a Lambda pointed at moto has."""
    for variable, value in aws.environment().items():
        monkeypatch.setenv(variable, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL_SQS", raising=False)
    client = boto3.client("sqs", region_name=sigv4.region(), endpoint_url=aws.endpoint)
    url = client.create_queue(QueueName=f"send-test-{uuid.uuid4().hex[:8]}.fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    yield url, client
    client.delete_queue(QueueUrl=url)
    sqs.get_sqs.cache_clear()


def _received(client: Any, url: str) -> list[dict[str, Any]]:
    answer = client.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"], WaitTimeSeconds=0
    )
    return list(answer.get("Messages", []))


@pytest.mark.parametrize("token", [None, "IQoJb3JpZ2luX2VjEB4aCXVzLWVhc3QtMSJHMEUCIQD"], ids=["keys", "session"])
def test_the_send_is_signed_as_botocore_signs_it(token: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    # given a FIFO SendMessage body, with its group and deduplication ids, and the role's credentials
    url = "https://sqs.eu-west-1.amazonaws.com/"
    body = json.dumps(
        {
            "QueueUrl": "https://sqs.eu-west-1.amazonaws.com/123456789012/turns.fifo",
            "MessageBody": '{"type": "turn"}',
            "MessageGroupId": "c0ffee",
            "MessageDeduplicationId": "m-1",
        }
    ).encode()
    headers = {"Content-Type": sqs.SQS.content_type, "X-Amz-Target": "AmazonSQS.SendMessage"}
    credentials = sigv4.Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    # when we and botocore sign it at the same instant
    ours = sigv4.sign(url, headers, body, credentials, AT, "eu-west-1", sqs.SQS.service)
    theirs = AWSRequest(method="POST", url=url, data=body, headers=dict(headers))
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: AT.replace(tzinfo=None))
    SigV4Auth(BotoCredentials("AKIDEXAMPLE", credentials.secret_key, token), "sqs", "eu-west-1").add_auth(theirs)
    # then the signatures are the same
    assert ours["Authorization"] == theirs.headers["Authorization"]
    assert ours.get("X-Amz-Security-Token") == theirs.headers.get("X-Amz-Security-Token")


def test_a_signed_send_reaches_the_fifo_queue_with_its_group_and_deduplication_id(
    fifo: tuple[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # given credentials in the environment (the signed path), and boto3 out of reach
    url, client = fifo
    monkeypatch.setattr(sqs, "_send_with_boto3", lambda *_: pytest.fail("the signed path must not use boto3"))
    # when a message is sent twice with the same deduplication id
    first = sqs.send_message(url, '{"type": "turn", "n": 1}', "conversation-1", "dedup-1")
    again = sqs.send_message(url, '{"type": "turn", "n": 1}', "conversation-1", "dedup-1")
    # then SQS took it once, in its group, with its deduplication id
    (message,) = _received(client, url)
    assert first == message["MessageId"]
    assert again  # accepted (and dropped as a duplicate)
    assert message["Body"] == '{"type": "turn", "n": 1}'
    assert message["Attributes"]["MessageGroupId"] == "conversation-1"
    assert message["Attributes"]["MessageDeduplicationId"] == "dedup-1"


def test_a_send_to_a_missing_queue_is_an_sqs_error(fifo: tuple[str, Any]) -> None:
    # given a queue URL that names no queue
    url, _ = fifo
    missing = url.rsplit("/", 1)[0] + "/no-such-queue.fifo"
    # when a message is sent to it / then the refusal is an SqsError naming the call
    with pytest.raises(sqs.SqsError, match="SendMessage: 400"):
        sqs.send_message(missing, "{}", "g", "d")


def test_an_unreachable_endpoint_is_an_sqs_error(fifo: tuple[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    # given an SQS endpoint nothing listens on
    url, _ = fifo
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:9")
    # when a message is sent / then it is an SqsError, after one retry
    with pytest.raises(sqs.SqsError, match="unreachable"):
        sqs.send_message(url, "{}", "g", "d")


def test_without_credentials_in_the_environment_boto3_sends_it(
    fifo: tuple[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # given no credentials in the environment (a profile on a laptop): boto3's credential chain
    url, client = fifo
    monkeypatch.setattr(sigv4, "credentials_from_environment", lambda: None)
    signed: list[object] = []
    monkeypatch.setattr(sigv4, "post_json", lambda *a, **k: signed.append(a))
    # when a message is sent
    message_id = sqs.send_message(url, "{}", "conversation-2", "dedup-2")
    # then boto3 sent it, the signed path was not used
    (message,) = _received(client, url)
    assert message["MessageId"] == message_id
    assert message["Attributes"]["MessageGroupId"] == "conversation-2"
    assert signed == []
