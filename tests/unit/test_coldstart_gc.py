"""shared.coldstart_gc: in Lambda the collector is off during init, then what init built is frozen and it runs again."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from shared import coldstart_gc


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
