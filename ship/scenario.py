"""Every function of the artefact with a request it can really answer, against local services.

Secrets sit in moto's SSM and reach the functions as ``ssm:`` references, exactly as the template
sets them; plain values that name a service point at the local one. HTTP functions are asked what
the benchmark asks them (``bench.cases``), the signed webhooks get Meta's signed text delivery or an
unsigned request (a 401 is their real answer to it), the turn worker gets the turn ``postMessage``
queued, the crons their schedule event, the delivery worker what ``dispatchEvents`` queued (or a
canonical SQS record).
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.cases import SIGNED_WEBHOOKS, WHATSAPP_VERIFY_TOKEN, function_cases, seed
from bench.invoke import api_event
from ship import artefact
from ship.smoke import Runner, lambda_environment

REPO = Path(__file__).resolve().parents[1]
EVENTS = REPO / "tests" / "events"
WORKERS_AFTER_HTTP = ("turnWorker", "dispatchEvents", "sweepTurns", "eventDelivery")


@dataclass
class Services:
    """The local stand-ins: Postgres, the Upstash bridge, moto (SQS + SSM) and an X-Ray daemon port."""

    database_url: str
    upstash_url: str
    upstash_token: str
    jwt_secret: str
    issuer: str
    aws_endpoint: str
    aws_env: dict[str, str]
    queues: dict[str, str]
    xray_port: int


@dataclass
class Scenario:
    services: Services
    runner: Runner
    functions: dict[str, artefact.Function]
    http_events: dict[str, dict[str, Any]]
    app_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    extra_env: dict[str, str] = field(default_factory=dict)

    def environment(self, function: artefact.Function) -> dict[str, str]:
        task, _ = self.runner.layout(function)
        return lambda_environment(
            function,
            task=task,
            queues=self.services.queues,
            overrides={
                "SUPABASE_URL": self.services.issuer.removesuffix("/auth/v1"),
                "UPSTASH_REDIS_REST_URL": self.services.upstash_url,
                **self.extra_env,
            },
            aws=self.services.aws_env,
            xray_port=self.services.xray_port,
        )

    def start(
        self, name: str, events: list[dict[str, Any]], snapstart: bool = False, wrapper: Sequence[str] = ()
    ) -> dict[str, Any]:
        function = self.functions[name]
        return self.runner.start(function, events, self.environment(function), snapstart=snapstart, wrapper=wrapper)


def put_secrets(services: Services, functions: list[artefact.Function], values: dict[str, str]) -> None:
    """Each ``ssm:`` reference of the template, as a SecureString in moto's SSM."""
    import boto3

    ssm = boto3.client(
        "ssm",
        region_name="us-east-1",
        endpoint_url=services.aws_endpoint,
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106
    )
    for function in functions:
        for key, value in function.environment.items():
            if isinstance(value, str) and value.startswith("ssm:"):
                ssm.put_parameter(Name=value[4:], Value=values[key], Type="SecureString", Overwrite=True)


def prepare(services: Services, runner: Runner) -> Scenario:
    """Secrets in SSM, a seeded organization, and one event per HTTP function."""
    from local_runtime.dev_auth import create_organization_as, ensure_user, sign_token

    functions = {f.name: f for f in artefact.functions()}
    scenario = Scenario(services=services, runner=runner, functions=functions, http_events={})
    put_secrets(
        services,
        list(functions.values()),
        {
            "DATABASE_URL": services.database_url,
            "SUPABASE_JWT_SECRET": services.jwt_secret,
            "SUPABASE_SERVICE_ROLE_KEY": secrets.token_urlsafe(32),
            "UPSTASH_REDIS_REST_TOKEN": services.upstash_token,
            "WHATSAPP_VERIFY_TOKEN": WHATSAPP_VERIFY_TOKEN,
            "WHATSAPP_APP_SECRET": scenario.app_secret,
            "HUBSPOT_CLIENT_SECRET": secrets.token_hex(16),
        },
    )
    email = f"artefact-{uuid.uuid4().hex[:8]}@example.com"
    user = ensure_user(services.database_url, email)
    org = create_organization_as(services.database_url, user, "Artefact")
    token = sign_token(services.jwt_secret, services.issuer, user, email)
    seeded = seed(services.database_url, org)
    for case in function_cases(seeded):
        scenario.http_events[case.name] = api_event({**case.__dict__}, token if case.auth else None)
    scenario.http_events["whatsappWebhook:POST"] = _whatsapp_delivery(scenario.app_secret)
    integration = seeded["*"]["{integration_id}"]
    for route in SIGNED_WEBHOOKS - {"POST /webhooks/whatsapp"}:
        method, path = route.split(" ", 1)
        name = {"hubspot": "hubspotWebhook", "pipedrive": "pipedriveWebhook", "rdstation": "rdstationWebhook"}[
            path.split("/")[2]
        ]
        concrete = path.replace("{integration_id}", integration)
        unsigned = {"route_key": route, "path": concrete, "method": method, "body": {"unsigned": True}}
        scenario.http_events[name] = api_event(unsigned, None)
    return scenario


def _whatsapp_delivery(app_secret: str) -> dict[str, Any]:
    """Meta's text delivery (tests/events/whatsapp/text.json), signed with the app secret."""
    import hashlib
    import hmac

    body = json.dumps(json.loads((EVENTS / "whatsapp" / "text.json").read_text()), separators=(",", ":"))
    signature = "sha256=" + hmac.new(app_secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    case = {
        "route_key": "POST /webhooks/whatsapp",
        "path": "/webhooks/whatsapp",
        "method": "POST",
        "headers": {"x-hub-signature-256": signature},
    }
    event = api_event(case, None)
    event["body"] = body
    return event


def http_function_events(scenario: Scenario) -> dict[str, list[dict[str, Any]]]:
    """Each HTTP function's events (the WhatsApp webhook: Meta's GET handshake, then a signed delivery)."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for key, event in scenario.http_events.items():
        grouped.setdefault(key.split(":")[0], []).append(event)
    return grouped


def scheduled_functions() -> list[str]:
    """The crons: every function of serverless.yml with a ``schedule`` event."""
    from local_runtime.gateway.routes import functions

    return sorted(f.name for f in functions() if any("schedule" in event for event in f.events))


def _received(services: Services, queue: str) -> list[dict[str, Any]]:
    """SQS records for what sits in a local queue, as the event source mapping would hand them over."""
    from local_runtime.aws import sqs_client

    sqs = sqs_client(services.aws_endpoint)
    url = services.queues[queue]
    got = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=1, VisibilityTimeout=60
    )
    return [
        {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": m.get("Attributes", {}),
            "messageAttributes": {},
            "md5OfBody": m["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{url.rsplit('/', 1)[-1]}",
            "awsRegion": "us-east-1",
        }
        for m in got.get("Messages", [])
    ]


def run_everything(scenario: Scenario) -> dict[str, dict[str, Any]]:
    """Start every function once from the artefact, HTTP first, then workers and crons."""
    reports: dict[str, dict[str, Any]] = {}
    for name, events in sorted(http_function_events(scenario).items()):
        reports[name] = scenario.start(name, events)
    turns = _received(scenario.services, "TurnQueue")
    reports["turnWorker"] = scenario.start("turnWorker", [{"Records": turns}])
    reports["turnWorker"]["queued_turns"] = len(turns)
    schedule = json.loads((EVENTS / "eventbridge_scheduled.json").read_text())
    for name in scheduled_functions():
        reports[name] = scenario.start(name, [schedule])
    deliveries = (
        _received(scenario.services, "EventsQueue") or json.loads((EVENTS / "sqs_fifo.json").read_text())["Records"]
    )
    reports["eventDelivery"] = scenario.start("eventDelivery", [{"Records": deliveries}])
    indexing = (
        _received(scenario.services, "KnowledgeQueue") or json.loads((EVENTS / "sqs_fifo.json").read_text())["Records"]
    )
    reports["knowledgeIngestion"] = scenario.start("knowledgeIngestion", [{"Records": indexing}])
    missing = set(scenario.functions) - set(reports)
    if missing:
        raise AssertionError(f"no event for {sorted(missing)}")
    return reports
