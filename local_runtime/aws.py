"""Local AWS: a moto server with the SQS queues serverless.yml declares.

Every boto3 client in the process reaches it through ``AWS_ENDPOINT_URL``; queue URLs
replace the ``Ref: <Queue>`` values of ``provider.environment``, so functions read the
same settings they read in AWS.
"""

from __future__ import annotations

import json
import re
import socket
from dataclasses import dataclass, field
from typing import Any

REGION = "us-east-1"
_VARIABLE = re.compile(r"\$\{[^}]*\}-?")


@dataclass
class LocalQueue:
    """One queue of serverless.yml, created in moto."""

    logical_id: str
    name: str
    url: str
    arn: str


@dataclass
class LocalAws:
    """A running moto server and the queues created in it."""

    endpoint: str
    queues: dict[str, LocalQueue] = field(default_factory=dict)
    _server: Any = None

    def environment(self) -> dict[str, str]:
        """Variables that point boto3 at moto, with throwaway credentials."""
        return aws_environment(self.endpoint)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


def aws_environment(endpoint: str) -> dict[str, str]:
    """``AWS_ENDPOINT_URL`` and fake credentials for a local endpoint."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }


def start_aws(
    config: dict[str, Any], *, visibility_timeout: int | None = 5, delay_seconds: int | None = None
) -> LocalAws:
    """Start moto on a free loopback port and create serverless.yml's queues in it.

    ``visibility_timeout`` shortens redelivery locally; ``delay_seconds=0`` removes the
    queues' debounce delay, for tests that drain a queue right after sending.
    """
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per SQS poll otherwise

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    local = LocalAws(endpoint=f"http://127.0.0.1:{port}", _server=server)
    local.queues = create_queues(
        sqs_client(local.endpoint), config, visibility_timeout=visibility_timeout, delay_seconds=delay_seconds
    )
    return local


def sqs_client(endpoint: str | None = None) -> Any:
    """A boto3 SQS client for ``endpoint`` (or the environment's)."""
    import boto3

    kwargs: dict[str, Any] = {"region_name": REGION}
    if endpoint:
        kwargs.update(endpoint_url=endpoint, aws_access_key_id="local", aws_secret_access_key="local")  # noqa: S106
    return boto3.client("sqs", **kwargs)


def create_queues(
    sqs: Any, config: dict[str, Any], *, visibility_timeout: int | None = None, delay_seconds: int | None = None
) -> dict[str, LocalQueue]:
    """Create each ``AWS::SQS::Queue`` resource, dead-letter queues first."""
    resources = ((config.get("resources") or {}).get("Resources")) or {}
    queues = {k: v for k, v in resources.items() if v.get("Type") == "AWS::SQS::Queue"}
    ordered = sorted(queues, key=lambda k: "RedrivePolicy" in (queues[k].get("Properties") or {}))
    created: dict[str, LocalQueue] = {}
    for logical_id in ordered:
        props = dict(queues[logical_id].get("Properties") or {})
        name = local_queue_name(str(props.pop("QueueName", logical_id)))
        attributes = {
            k: str(v).lower() if isinstance(v, bool) else str(v)
            for k, v in props.items()
            if k
            in (
                "FifoQueue",
                "ContentBasedDeduplication",
                "DeduplicationScope",
                "FifoThroughputLimit",
                "VisibilityTimeout",
                "MessageRetentionPeriod",
                "DelaySeconds",
            )
        }
        if visibility_timeout is not None:
            attributes["VisibilityTimeout"] = str(visibility_timeout)
        if delay_seconds is not None:
            attributes["DelaySeconds"] = str(delay_seconds)
        redrive = props.get("RedrivePolicy")
        if isinstance(redrive, dict):
            target = _get_att_target(redrive.get("deadLetterTargetArn"))
            if target in created:
                attributes["RedrivePolicy"] = json.dumps(
                    {
                        "deadLetterTargetArn": created[target].arn,
                        "maxReceiveCount": int(redrive.get("maxReceiveCount", 5)),
                    }
                )
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        created[logical_id] = LocalQueue(logical_id, name, url, arn)
    return created


def local_queue_name(name: str) -> str:
    """``${self:service}-${sls:stage}-turns.fifo`` → ``turns.fifo``."""
    return _VARIABLE.sub("", name).lstrip("-") or name


def referenced_environment(config: dict[str, Any], queues: dict[str, LocalQueue]) -> dict[str, str]:
    """``provider.environment`` entries that ``Ref`` a queue, resolved to its local URL."""
    env: dict[str, str] = {}
    for key, value in ((config.get("provider") or {}).get("environment") or {}).items():
        if isinstance(value, dict) and value.get("Ref") in queues:
            env[key] = queues[value["Ref"]].url
    return env


def _get_att_target(value: Any) -> str | None:
    if isinstance(value, dict) and isinstance(value.get("Fn::GetAtt"), list):
        return str(value["Fn::GetAtt"][0])
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
