"""Each function is given exactly the secrets its code reads, and its IAM role exactly the matching access.

What a function reads is found from the code: the modules its handler can import (every
``import`` statement, at any depth, including the ones inside functions), and the settings
fields those modules read. serverless.yml must agree, for the environment and for the role.
"""

from __future__ import annotations

import ast
import functools
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from local_runtime.gateway.routes import functions, load_serverless
from shared.settings import SECRET_FIELDS

REPO = Path(__file__).resolve().parents[3]
CONFIG = load_serverless()
SPECS = functions(CONFIG)
RESOURCES = CONFIG["resources"]["Resources"]
QUEUE_FIELDS = {
    "turn_queue_url": "TurnQueue",
    "events_queue_url": "EventsQueue",
    "knowledge_queue_url": "KnowledgeQueue",
}
QUEUE_ACTIONS = {
    "TurnQueue": {"sqs:SendMessage"},
    "EventsQueue": {"sqs:SendMessage", "sqs:ChangeMessageVisibility"},
    "KnowledgeQueue": {"sqs:SendMessage"},
}
# A consumer may postpone what it received (a send or a delivery waiting out its backoff).
CONSUME_ACTIONS = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"}
SSM_PREFIX = "ssm:${param:ssmPrefix}/"


def _source(module: str) -> Path | None:
    base = REPO / module.replace(".", "/")
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


@functools.cache
def _parse(module: str) -> tuple[frozenset[str], frozenset[str]]:
    """(modules of this code base ``module`` imports, settings fields it reads)."""
    path = _source(module)
    assert path is not None, module
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    imported: set[str] = set()
    reads: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            imported.add(base)
            imported.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Attribute) and node.attr in (*SECRET_FIELDS, *QUEUE_FIELDS):
            reads.add(node.attr)
    ours: set[str] = set()
    for name in imported:
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):
            candidate = ".".join(parts[:depth])
            # shared.settings defines the fields (and validates them all); it reads none for a use case.
            if parts[0] in ("shared", "functions") and candidate != "shared.settings" and _source(candidate):
                ours.add(candidate)
    return frozenset(ours), frozenset(reads)


def code_needs(module: str) -> set[str]:
    """Every secret and queue field read by the modules ``module`` can import."""
    seen, stack, needs = {module}, [module], set()
    while stack:
        imported, reads = _parse(stack.pop())
        needs |= reads
        for name in imported - seen:
            seen.add(name)
            stack.append(name)
    return needs


def given_secrets(name: str) -> dict[str, str]:
    """The secret variables serverless.yml gives function ``name`` (provider's, then its own)."""
    env = {**CONFIG["provider"].get("environment", {}), **(CONFIG["functions"][name].get("environment") or {})}
    return {key.lower(): value for key, value in env.items() if key.lower() in SECRET_FIELDS}


def role_of(name: str) -> dict[str, Any]:
    role = CONFIG["functions"][name]["role"]
    resource: dict[str, Any] = RESOURCES[role]
    assert resource["Type"] == "AWS::IAM::Role"
    return resource


def statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for policy in role["Properties"]["Policies"] for s in policy["PolicyDocument"]["Statement"]]


def _actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_each_function_is_given_exactly_the_secrets_its_code_reads(spec: Any) -> None:
    # given what the function's code reads
    needed = code_needs(spec.module) & set(SECRET_FIELDS)
    # when serverless.yml is read / then it gives exactly those secrets, each an SSM reference
    given = given_secrets(spec.name)
    assert set(given) == needed
    assert all(value.startswith(SSM_PREFIX) for value in given.values()), given


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_each_role_reads_exactly_the_functions_parameters(spec: Any) -> None:
    # given the function's secrets and its role
    parameters = {value.removeprefix(SSM_PREFIX) for value in given_secrets(spec.name).values()}
    role = role_of(spec.name)
    # then the role's SSM access is one GetParameters statement on exactly those parameters
    ssm = [s for s in statements(role) if any(a.startswith("ssm:") for a in _actions(s))]
    assert [_actions(s) for s in ssm] == [{"ssm:GetParameters"}]
    arns = [r["Fn::Sub"] for r in ssm[0]["Resource"]]
    assert all(arn.startswith("arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter") for arn in arns)
    assert {arn.rsplit("/", 1)[1] for arn in arns} == parameters
    # and every function sharing this role has the same needs (the role is a group of identical needs)
    peers = [s.name for s in SPECS if CONFIG["functions"][s.name]["role"] == CONFIG["functions"][spec.name]["role"]]
    assert all(given_secrets(p) == given_secrets(spec.name) for p in peers)


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_each_role_reaches_exactly_the_queues_the_function_uses(spec: Any) -> None:
    # given the queues the code sends to, and the queue its event source consumes
    sends = {QUEUE_FIELDS[f] for f in code_needs(spec.module) & set(QUEUE_FIELDS)}
    consumes = {e["sqs"]["arn"]["Fn::GetAtt"][0] for e in spec.events if "sqs" in e}
    # when the role's SQS statements are read
    granted: dict[str, set[str]] = {}
    for statement in statements(role_of(spec.name)):
        if any(a.startswith("sqs:") for a in _actions(statement)):
            queue = statement["Resource"]["Fn::GetAtt"][0]
            granted.setdefault(queue, set()).update(_actions(statement))
    # then each queue gets the actions its use needs, and no other queue appears
    expected: dict[str, set[str]] = {}
    for queue in sends:
        expected.setdefault(queue, set()).update(QUEUE_ACTIONS[queue])
    for queue in consumes:
        expected.setdefault(queue, set()).update(CONSUME_ACTIONS)
    assert granted == expected


def test_no_role_grants_a_wildcard_action() -> None:
    # given every IAM role in the stack
    roles = [r for r in RESOURCES.values() if r["Type"] == "AWS::IAM::Role"]
    # then no statement allows "*" or "service:*"
    for role in roles:
        for statement in statements(role):
            assert not any(a == "*" or a.endswith(":*") for a in _actions(statement)), statement


def test_each_module_declares_the_secrets_it_reads() -> None:
    # given every module under shared/ (settings defines them; it is not a reader)
    import importlib

    for path in sorted((REPO / "shared").rglob("*.py")):
        module = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        if module == "shared.settings":
            continue
        reads = set(_parse(module)[1]) & set(SECRET_FIELDS)
        loaded = importlib.import_module(module)
        declared = {*getattr(loaded, "SECRETS_USED", ()), *getattr(loaded, "SECRETS_OPTIONAL", ())}
        # then what it declares (checked at cold start) is what it reads
        assert declared == reads, module


def _import_in_lambda(module: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = f"import {module}\nfrom shared.settings import used_secrets\nprint(sorted(used_secrets(optional=True)))"
    base = {"PATH": "/usr/bin:/bin", "APP_ENV": "prod", "DATABASE_URL": "postgresql://app:Zq8w3Kp1@127.0.0.1:1/app"}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env={**base, **env}, capture_output=True, text=True, timeout=120
    )


def test_a_deployed_function_without_a_secret_it_reads_fails_its_cold_start() -> None:
    # given the health function deployed without the Upstash token it reads
    done = _import_in_lambda("functions.health.handler", {})
    # when / then its init fails, naming the missing variable (and nothing else)
    assert done.returncode != 0
    assert "this function needs UPSTASH_REDIS_REST_TOKEN;" in done.stderr


def test_a_deployed_function_needs_no_secret_it_does_not_read() -> None:
    # given a CRM webhook with only the database URL (no JWT secret, no Redis token)
    done = _import_in_lambda("functions.webhooks.pipedrive.handler", {})
    # then it starts, and what it loaded reads exactly what serverless.yml gives it
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == str(sorted(given_secrets("pipedriveWebhook")))
