"""The Powertools logger: JSON lines with invocation context, PII masked in what is emitted."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from shared.observability import logger
from shared.observability.context import begin_invocation, bind_organization
from shared.observability.telemetry import get_tracer
from tests.support.lambda_events import FakeLambdaContext, http_event

ORG_ID = "3f2a9c4e-1b2d-4c5e-8f9a-0b1c2d3e4f5a"
_CONTEXT_KEYS = ["request_id", "correlation_id", "function_name", "organization_id", "cold_start"]


class LogCapture:
    """The JSON lines the logger wrote."""

    def __init__(self, stream: io.StringIO) -> None:
        self._stream = stream

    @property
    def raw(self) -> str:
        return self._stream.getvalue()

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.raw.splitlines() if line.strip()]

    def last(self) -> dict[str, Any]:
        lines = self.lines()
        assert lines, "nothing was logged"
        return lines[-1]


@pytest.fixture
def logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[LogCapture]:
    """Point the logger's own handler at a buffer, at INFO, with tracing off and no leftover keys."""
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    get_tracer.cache_clear()
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous_stream = handler.setStream(buffer)
    previous_level = logger.log_level
    logger.setLevel("INFO")
    logger.remove_keys(_CONTEXT_KEYS)
    yield LogCapture(buffer)
    logger.remove_keys(_CONTEXT_KEYS)
    logger.setLevel(previous_level)
    handler.setStream(previous_stream)
    get_tracer.cache_clear()


def test_log_line_is_json_with_invocation_context(logs: LogCapture) -> None:
    # GIVEN an invocation begun from a Lambda context and an API Gateway event, for one organization
    context = FakeLambdaContext("post-message")
    event = http_event("POST", "/conversations")
    correlation_id = begin_invocation(context, event, cold_start=True)
    bind_organization(ORG_ID)

    # WHEN the function logs
    logger.info("message accepted")

    # THEN the line is JSON carrying the invocation's ids
    line = logs.last()
    assert line["message"] == "message accepted"
    assert line["level"] == "INFO"
    assert line["request_id"] == context.aws_request_id
    assert line["correlation_id"] == correlation_id == event["requestContext"]["requestId"]
    assert line["function_name"] == "post-message"
    assert line["organization_id"] == ORG_ID
    assert line["cold_start"] is True


def test_correlation_id_falls_back_to_the_lambda_request_id(logs: LogCapture) -> None:
    # GIVEN an invocation without an API Gateway event
    context = FakeLambdaContext()

    # WHEN it begins and logs
    correlation_id = begin_invocation(context, None, cold_start=False)
    logger.info("scheduled run")

    # THEN the Lambda request id correlates the lines
    assert correlation_id == context.aws_request_id
    assert logs.last()["correlation_id"] == context.aws_request_id


def test_ids_with_phone_like_digit_runs_survive_masking(logs: LogCapture) -> None:
    # GIVEN a Lambda request id and an organization id whose hex groups are all digits
    context = FakeLambdaContext()
    context.aws_request_id = "12345678-1234-4567-8901-123456789012"
    begin_invocation(context, None, cold_start=False)
    bind_organization("3f2a9c4e-1234-4567-8901-abcdefabcdef")

    # WHEN a line is logged
    logger.info("working")

    # THEN the ids are emitted verbatim, so logs can still be searched by them
    line = logs.last()
    assert line["request_id"] == line["correlation_id"] == "12345678-1234-4567-8901-123456789012"
    assert line["organization_id"] == "3f2a9c4e-1234-4567-8901-abcdefabcdef"


def test_new_invocation_drops_the_previous_organization(logs: LogCapture) -> None:
    # GIVEN a warm container whose previous invocation was bound to an organization
    begin_invocation(FakeLambdaContext(), None, cold_start=True)
    bind_organization(ORG_ID)

    # WHEN the next invocation begins and logs before any organization is known
    second = FakeLambdaContext()
    begin_invocation(second, None, cold_start=False)
    logger.info("next request")

    # THEN the line belongs to the new request only
    line = logs.last()
    assert "organization_id" not in line
    assert line["request_id"] == second.aws_request_id
    assert line["cold_start"] is False


def test_pii_in_message_is_masked_in_emitted_output(logs: LogCapture) -> None:
    # GIVEN an invocation
    begin_invocation(FakeLambdaContext(), None, cold_start=False)

    # WHEN a message interpolates an e-mail, a phone and a bearer token
    logger.info("lead ana.silva@example.com from +55 11 91234-5678 sent Authorization: Bearer sk_live_abc123")

    # THEN the emitted line holds none of them
    assert "ana.silva@example.com" not in logs.raw
    assert "91234-5678" not in logs.raw
    assert "sk_live_abc123" not in logs.raw
    assert logs.last()["message"] == "lead a***@example.com from ***78 sent Authorization: Bearer ***"


def test_pii_in_extra_keys_is_masked_in_emitted_output(logs: LogCapture) -> None:
    # GIVEN an invocation
    begin_invocation(FakeLambdaContext(), None, cold_start=False)

    # WHEN structured extras carry PII, under sensitive keys and nested in free text
    logger.info(
        "inbound message",
        extra={"phone": "+5511912345678", "lead": {"email": "joao@empresa.io", "note": "mail joao@empresa.io"}},
    )

    # THEN the emitted JSON is masked while keeping its structure
    line = logs.last()
    assert "+5511912345678" not in logs.raw
    assert "joao@empresa.io" not in logs.raw
    assert line["phone"] == "***"
    assert line["lead"] == {"email": "***", "note": "mail j***@empresa.io"}


def test_pii_in_appended_keys_is_masked(logs: LogCapture) -> None:
    # GIVEN a persistent key carrying an e-mail
    begin_invocation(FakeLambdaContext(), None, cold_start=False)
    logger.append_keys(lead_contact="ana@example.com")
    try:
        # WHEN any line is logged
        logger.info("working")
    finally:
        logger.remove_keys(["lead_contact"])

    # THEN the appended value is masked too
    assert logs.last()["lead_contact"] == "a***@example.com"


def test_reserved_keys_are_not_masked(logs: LogCapture) -> None:
    # GIVEN an invocation
    begin_invocation(FakeLambdaContext(), None, cold_start=False)

    # WHEN a line is logged
    logger.info("tick")

    # THEN the timestamp (digit runs that look phone-like) survives intact, in RFC 3339
    timestamp = logs.last()["timestamp"]
    assert "***" not in timestamp
    assert datetime.fromisoformat(timestamp).tzinfo is not None


def test_exception_lines_mask_pii_in_the_message(logs: LogCapture) -> None:
    # GIVEN an invocation
    begin_invocation(FakeLambdaContext(), None, cold_start=False)

    # WHEN an exception is logged with PII in the message
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.exception("failed for ana@example.com")

    # THEN the message is masked and the error is still identified
    line = logs.last()
    assert line["message"] == "failed for a***@example.com"
    assert line["exception_name"] == "RuntimeError"
    assert "ana@example.com" not in logs.raw


def test_two_functions_in_one_process_each_log_their_own_context(logs: LogCapture) -> None:
    # GIVEN two functions' "containers" as threads of one process (the local runtime), each invoked
    import threading

    def invoke(name: str, started: threading.Event, other_started: threading.Event) -> None:
        begin_invocation(FakeLambdaContext(name), None, cold_start=False)
        started.set()
        other_started.wait(5)  # the other function has appended its keys by now
        # WHEN each logs after both invocations began
        logger.info(f"line from {name}")

    a_started, b_started = threading.Event(), threading.Event()
    threads = [
        threading.Thread(target=invoke, args=("archiveAgent", a_started, b_started)),
        threading.Thread(target=invoke, args=("dispatchEvents", b_started, a_started)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    # THEN each line carries its own function's name
    lines = {line["message"]: line for line in logs.lines()}
    assert lines["line from archiveAgent"]["function_name"] == "archiveAgent"
    assert lines["line from dispatchEvents"]["function_name"] == "dispatchEvents"
