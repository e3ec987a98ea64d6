"""Deploy-time limits in serverless.yml: the connection budget and SnapStart on the turn worker."""

from __future__ import annotations

import re
from typing import Any

import pytest

from local_runtime.gateway.routes import functions, load_serverless
from tests.unit.infra.test_secrets_per_function import code_needs

CONFIG = load_serverless()
PARAMS: dict[str, Any] = CONFIG["params"]["default"]
SPECS = functions(CONFIG)
_PARAM = re.compile(r"^\$\{param:(\w+)\}$")


def resolved(value: Any, params: dict[str, Any] = PARAMS) -> Any:
    """A ``${param:x}`` value as the Serverless Framework resolves it for a stage using ``params``."""
    found = _PARAM.match(value) if isinstance(value, str) else None
    return params[found.group(1)] if found else value


def concurrency_caps(params: dict[str, Any] = PARAMS) -> dict[str, int | None]:
    return {name: resolved(spec.get("reservedConcurrency"), params) for name, spec in CONFIG["functions"].items()}


def test_every_function_that_opens_a_database_connection_has_a_concurrency_cap() -> None:
    # given the functions whose code reads the database (each container holds at most one connection)
    users = {s.name for s in SPECS if "database_url" in code_needs(s.module)}
    caps = concurrency_caps()
    # then each one has a reserved concurrency, a positive integer
    assert users == set(CONFIG["functions"])  # every function reads the database today
    for name in users:
        cap = caps[name]
        assert isinstance(cap, int), name
        assert cap > 0, name


@pytest.mark.parametrize("stage", ["default", *[s for s in CONFIG["params"] if s != "default"]])
def test_at_peak_the_functions_stay_within_the_poolers_client_limit(stage: str) -> None:
    # given the stage's params (a stage inherits the default ones it does not set)
    params = {**PARAMS, **CONFIG["params"][stage]}
    # when every function runs at its concurrency cap, one pooler client per container
    peak = sum(cap or 0 for cap in concurrency_caps(params).values())
    # then the clients fit in the compute tier's limit, minus what is kept for migrations and admin tools
    assert peak <= params["poolerMaxClients"] - params["poolerReservedClients"], peak


def test_the_budget_is_the_documented_small_tier() -> None:
    # given the README's arithmetic (Supabase "Compute and Disk": Small allows 400 pooler clients)
    # then the defaults are the ones it shows: 209 clients at peak out of 380 usable
    assert (PARAMS["poolerMaxClients"], PARAMS["poolerReservedClients"]) == (400, 20)
    assert sum(c or 0 for c in concurrency_caps().values()) == 209


def test_the_turn_worker_runs_with_snapstart_within_its_limits() -> None:
    # given the turn worker, whose init (litellm and the Router) is the slowest
    spec = CONFIG["functions"]["turnWorker"]
    provider = CONFIG["provider"]
    # then SnapStart is on, on a runtime and architecture AWS supports it for (Python 3.12+, x86_64 or arm64)
    assert spec["snapStart"] is True
    runtime = spec.get("runtime", provider["runtime"])
    assert re.fullmatch(r"python3\.(1[2-9]|[2-9]\d)", runtime)
    assert spec.get("architecture", provider["architecture"]) in ("arm64", "x86_64")
    # and nothing SnapStart refuses is configured: provisioned concurrency, EFS, ephemeral storage over 512 MB
    assert "provisionedConcurrency" not in spec
    assert "fileSystemConfig" not in spec
    assert spec.get("ephemeralStorageSize", 512) <= 512
    # and its queue is consumed through the event source Serverless points at the published alias
    assert [e for e in spec["events"] if "sqs" in e], "the turn queue drives the worker"
