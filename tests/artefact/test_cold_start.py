"""The artefact starts: every handler, unpacked read-only as Lambda lays it out, imported and invoked
by Python 3.12 in a clean process with production settings, ``ssm:`` secrets from moto's SSM, tracing
on with a sampled trace header, and ``PYTHONDONTWRITEBYTECODE`` set.

The smoke runs this machine's build of the same locks (x86_64 here; arm64 cannot run), with the
same layout and bytecode as the deployed artefact.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local_runtime.gateway.routes import routes
from ship import artefact
from ship.scenario import Services, prepare, run_everything, scheduled_functions
from ship.smoke import Runner
from tests.support.fake_openai import FakeProvider
from tests.support.tokens import ISSUER
from tests.support.xray import received, udp_daemon

pytestmark = [pytest.mark.artefact, pytest.mark.integration]
HTTP = sorted({route.function for route in routes()})


@pytest.fixture(scope="module")
def xray_daemon() -> Iterator[socket.socket]:
    """A UDP socket where the X-Ray SDK sends its segments (the daemon's address)."""
    with udp_daemon() as sock:
        yield sock


@pytest.fixture(scope="module")
def reports(
    built_artefact: list[artefact.Function],
    database_url: str,
    upstash: tuple[str, str],
    jwt_secret: str,
    aws: Any,
    xray_daemon: socket.socket,
    provider_config: Path,
    fake_provider: FakeProvider,
) -> Iterator[dict[str, dict[str, Any]]]:
    runner = Runner()
    services = Services(
        database_url=database_url,
        upstash_url=upstash[0],
        upstash_token=upstash[1],
        jwt_secret=jwt_secret,
        issuer=ISSUER,
        aws_endpoint=aws.endpoint,
        aws_env=aws.environment(),
        queues={logical: queue.url for logical, queue in aws.queues.items()},
        xray_port=xray_daemon.getsockname()[1],
    )
    scenario = prepare(services, runner)
    scenario.extra_env["LITELLM_CONFIG_PATH"] = str(provider_config)
    try:
        yield run_everything(scenario)
    finally:
        runner.close()


def _failure(report: dict[str, Any]) -> str:
    return (
        f"{report.get('error') or ''}\n--- stdout\n{report['stdout'][-3000:]}\n--- stderr\n{report['stderr'][-3000:]}"
    )


def test_every_handler_starts_and_answers(reports: dict[str, dict[str, Any]]) -> None:
    # given every function of the artefact, started from its zip and layers
    for name, report in reports.items():
        # then its import and every invocation completed
        assert "error" not in report, f"{name}: {_failure(report)}"
        assert report["invocations"], name


def test_no_module_was_compiled_at_import(reports: dict[str, dict[str, Any]]) -> None:
    # given a read-only layout and PYTHONDONTWRITEBYTECODE, like Lambda
    for name, report in reports.items():
        # then no source file was compiled: every module came from the shipped 3.12 bytecode
        assert report["compiled"] == [], f"{name} compiled {report['compiled'][:10]}"
        assert report["not_from_bytecode"] == [], f"{name}: {report['not_from_bytecode'][:10]}"


def test_http_functions_answer_without_importing_litellm(reports: dict[str, dict[str, Any]]) -> None:
    # given the HTTP functions (every function with an httpApi event)
    http = [name for name in reports if name in HTTP]
    assert len(http) == len(HTTP) > 30
    for name in http:
        # then they answered, and neither litellm nor pydantic.v1 was imported
        assert reports[name]["litellm_loaded"] is False, name
        assert reports[name]["pydantic_v1_loaded"] is False, name


def test_a_sampled_trace_never_turns_a_request_into_a_5xx(
    reports: dict[str, dict[str, Any]], xray_daemon: socket.socket
) -> None:
    # given every HTTP invocation ran with a sampled _X_AMZN_TRACE_ID and tracing on
    for name in HTTP:
        for invocation in reports[name]["invocations"]:
            # then none answered 5xx
            status = invocation["response"]["statusCode"]
            assert status < 500, f"{name}: {status} {invocation['response'].get('body')}\n{_failure(reports[name])}"
    # and segments reached the daemon's address
    assert received(xray_daemon)


def test_the_turn_worker_runs_a_real_turn_from_the_artefact(
    reports: dict[str, dict[str, Any]], fake_provider: FakeProvider
) -> None:
    # given the turn postMessage queued, handed to the worker started from the http + llm layers
    report = reports["turnWorker"]
    assert report["queued_turns"] >= 1
    # then the turn ran to the end with LiteLLM loaded, and no record failed
    assert report["litellm_loaded"] is True
    assert report["invocations"][0]["response"] == {"batchItemFailures": []}, _failure(report)
    # and the model was called over HTTP, as in production (the artefact ships no local model)
    assert fake_provider.hits["ok"] >= 1


def test_workers_and_crons_report_no_failed_record(reports: dict[str, dict[str, Any]]) -> None:
    # given the crons and the delivery worker, after the HTTP functions ran
    for name in scheduled_functions():
        # then each finished its run
        assert reports[name]["invocations"], name
    assert "batchItemFailures" in reports["eventDelivery"]["invocations"][0]["response"]
    assert "batchItemFailures" in reports["knowledgeIngestion"]["invocations"][0]["response"]
