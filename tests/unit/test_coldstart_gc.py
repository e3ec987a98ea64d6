"""shared.coldstart_gc: in Lambda the collector is off during init, then what init built is frozen and it runs again."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from starlette.types import Message, Receive, Scope, Send

from shared import coldstart_gc
from shared.http.middleware import InvocationMiddleware
from tests.support.aio import run


@pytest.fixture
def collector(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Leave the process's collector as it was (enabled, nothing frozen) whatever the test did."""
    monkeypatch.setattr(coldstart_gc, "_paused", False)
    yield
    gc.unfreeze()
    gc.enable()


def _lambda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_EXECUTION_ENV", "AWS_Lambda_python3.12")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "conversion-agents-ci-getAgent")


def test_in_lambda_init_runs_without_collections_and_resume_freezes_it(
    collector: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a Lambda container whose init paused the collector
    _lambda(monkeypatch)
    coldstart_gc.pause()
    assert not gc.isenabled()
    # when init builds long-lived objects and the first request resumes the collector
    built = [{"n": i} for i in range(1000)]
    frozen_before = gc.get_freeze_count()
    coldstart_gc.resume()
    # then they are in the permanent generation, and the collector runs again
    assert gc.isenabled()
    assert gc.get_freeze_count() >= frozen_before + len(built)
    # and a second resume (every later request) freezes nothing more (objects frozen before may still be freed)
    later = [[i] for i in range(1000)]  # lists are always tracked: a second freeze would count them
    frozen = gc.get_freeze_count()
    coldstart_gc.resume()
    assert gc.get_freeze_count() <= frozen
    assert later


def test_outside_lambda_the_collector_is_left_alone(collector: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # given a test process or the local runtime (no Lambda execution environment)
    monkeypatch.delenv("AWS_EXECUTION_ENV", raising=False)
    # when shared pauses and resumes
    coldstart_gc.pause()
    paused_enabled = gc.isenabled()
    coldstart_gc.resume()
    # then collection was never off and nothing was frozen
    assert paused_enabled
    assert gc.get_freeze_count() == 0


def test_an_http_functions_first_request_runs_paused_and_resumes_the_collector_when_answered(
    collector: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a Lambda container whose init paused the collector, and an app behind the invocation middleware
    _lambda(monkeypatch)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    coldstart_gc.pause()
    enabled_during: list[bool] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        enabled_during.append(gc.isenabled())  # where the first request imports its clients' libraries
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        pass

    middleware = InvocationMiddleware(app)
    # when it answers its first request, then a second
    for _ in range(2):
        run(middleware({"type": "http", "method": "GET", "path": "/"}, receive, send))
    # then the first ran with the collector still paused, and it was back on (init frozen) for the second
    assert enabled_during == [False, True]
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0
