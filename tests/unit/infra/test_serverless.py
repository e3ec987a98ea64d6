"""serverless.yml is the route table: check it against functions/ and against what AWS expects."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local_runtime.gateway.routes import functions, load_serverless, routes

REPO = Path(__file__).resolve().parents[3]
CONFIG = load_serverless()
SPECS = functions(CONFIG)
HTTP_SPECS = [s for s in SPECS if any("httpApi" in e for e in s.events)]
EVENT_SPECS = [s for s in SPECS if s not in HTTP_SPECS]


@pytest.fixture(autouse=True, scope="module")
def _settings_env() -> Iterator[None]:
    """Importing a handler validates settings at cold start; give it a valid dev environment."""
    from shared.settings import get_settings

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("APP_ENV", "dev")
        mp.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/none")
        mp.setenv("SUPABASE_JWT_SECRET", "x" * 40)
        get_settings.cache_clear()
        yield
        get_settings.cache_clear()


def test_provider_is_aws_python312_arm64() -> None:
    # given the provider section / then it targets the runtime the layer is built for
    provider = CONFIG["provider"]
    assert (provider["name"], provider["runtime"], provider["architecture"]) == ("aws", "python3.12", "arm64")


def test_http_api_has_a_jwt_authorizer_on_supabase_issuer() -> None:
    # given the httpApi authorizers
    authorizer = CONFIG["provider"]["httpApi"]["authorizers"]["supabaseJwt"]
    # then it is a JWT authorizer on Supabase Auth's issuer, audience "authenticated"
    assert authorizer["type"] == "jwt"
    assert authorizer["issuerUrl"].endswith("/auth/v1")
    assert authorizer["audience"] == ["authenticated"]
    assert authorizer["identitySource"] == "$request.header.Authorization"


def test_every_function_uses_the_http_layer_and_ships_only_its_folder() -> None:
    # given per-function packaging, and layers that are prebuilt zips
    assert CONFIG["package"]["individually"] is True
    assert CONFIG["package"]["patterns"] == ["!**"]
    assert CONFIG["provider"]["layers"] == [{"Ref": "HttpLambdaLayer"}]
    assert set(CONFIG["layers"]) == {"http", "llm"}
    for layer in CONFIG["layers"].values():
        assert layer["package"]["artifact"].startswith("build/layers/")
    for name, spec in CONFIG["functions"].items():
        folder = spec["handler"].rsplit("/", 1)[0]
        # then each function packages exactly its own folder
        assert spec["package"]["patterns"] == [f"{folder}/**"], name


@pytest.mark.parametrize("spec", HTTP_SPECS, ids=[s.name for s in HTTP_SPECS])
def test_every_handler_resolves_to_a_mangum_handler(spec: Any) -> None:
    # given a declared handler path
    assert (REPO / (spec.module.replace(".", "/") + ".py")).exists()
    # when its module is imported
    module = importlib.import_module(spec.module)
    handler = getattr(module, spec.attribute)
    # then it is Mangum with lifespan off, wrapping the module's FastAPI app
    from mangum import Mangum

    assert isinstance(handler, Mangum)
    assert handler.lifespan == "off"
    assert handler.app is module.app


@pytest.mark.parametrize("spec", EVENT_SPECS, ids=[s.name for s in EVENT_SPECS])
def test_every_queue_or_schedule_handler_is_a_plain_function_without_an_http_app(spec: Any) -> None:
    # given a function triggered by a queue or a schedule
    assert all("sqs" in e or "schedule" in e for e in spec.events), spec.name
    # when its module is imported / then its handler is a callable taking (event, context), with no app
    module = importlib.import_module(spec.module)
    assert callable(getattr(module, spec.attribute))
    assert not hasattr(module, "app")


def test_every_function_folder_is_declared() -> None:
    # given every handler.py under functions/
    on_disk = {str(p.relative_to(REPO).with_suffix("")) for p in (REPO / "functions").rglob("handler.py")}
    declared = {spec.handler.rsplit(".", 1)[0] for spec in SPECS}
    # then each one is a function in serverless.yml, and vice versa
    assert on_disk == declared


@pytest.mark.parametrize("route", routes(CONFIG), ids=lambda r: r.route_key)
def test_every_route_is_served_by_its_function_app(route: Any) -> None:
    # given an httpApi route
    spec = next(s for s in SPECS if s.name == route.function)
    app = importlib.import_module(spec.module).app
    # then the function's own app declares that same method and path
    served = {(m, r.path) for r in app.routes for m in getattr(r, "methods", ())}
    assert (route.method, route.path) in served


def test_every_http_function_is_routed() -> None:
    # given functions whose app defines HTTP routes
    routed = {r.function for r in routes(CONFIG)}
    for spec in SPECS:
        app = getattr(importlib.import_module(spec.module), "app", None)
        if app is None:
            continue
        if any(getattr(r, "methods", None) for r in app.routes):
            # then serverless.yml routes them
            assert spec.name in routed, spec.name


def test_fifo_queue_has_a_fifo_dead_letter_queue() -> None:
    # given the resources
    resources = CONFIG["resources"]["Resources"]
    queue, dlq = resources["TurnQueue"]["Properties"], resources["TurnDeadLetterQueue"]["Properties"]
    # then both are FIFO and the queue redrives to the DLQ
    assert queue["FifoQueue"] is True
    assert dlq["FifoQueue"] is True
    assert queue["QueueName"].endswith(".fifo")
    assert dlq["QueueName"].endswith(".fifo")
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["TurnDeadLetterQueue", "Arn"]}


def test_secrets_come_from_ssm_and_are_never_inlined() -> None:
    # given the provider environment
    env = CONFIG["provider"]["environment"]
    # then the one secret every function reads is a reference resolved at cold start (the others are
    # per function: test_secrets_per_function.py), and plain values are stage params
    assert env["DATABASE_URL"].startswith("ssm:${param:ssmPrefix}/")
    assert not {"SUPABASE_JWT_SECRET", "SUPABASE_SERVICE_ROLE_KEY", "UPSTASH_REDIS_REST_TOKEN"} & set(env)
    for name in ("SUPABASE_URL", "UPSTASH_REDIS_REST_URL"):
        assert env[name].startswith("${param:"), name


def test_packaging_needs_no_aws_lookup() -> None:
    # given the raw serverless.yml
    text = (REPO / "serverless.yml").read_text(encoding="utf-8")
    # then no variable needs AWS credentials to resolve (so `serverless package --stage ci` runs offline)
    assert "${ssm:" not in text
    assert "${aws:" not in text
    assert "${cf:" not in text
    # and the ci stage has every param another stage would take from the deployer's environment
    assert set(CONFIG["params"]["ci"]) >= {"supabaseUrl", "upstashRedisRestUrl"}


def test_http_functions_do_not_import_litellm() -> None:
    # given every HTTP function imported in a fresh interpreter
    import subprocess
    import sys

    modules = sorted({s.module for s in SPECS if any("httpApi" in e for e in s.events)})
    code = "import sys\n" + "".join(f"import {m}\n" for m in modules) + "print('litellm' in sys.modules)"
    env = {"APP_ENV": "dev", "DATABASE_URL": "postgresql://x@127.0.0.1:1/x", "SUPABASE_JWT_SECRET": "x" * 40}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True, timeout=120
    )
    # then litellm was never loaded
    assert result.stdout.strip() == "False"


# Outbound clients an HTTP function builds on first use: importing one at init costs every cold start
# (httpx alone about 12 ms from the artefact), also in the functions that never call out.
OUTBOUND_CLIENTS = ("httpx", "httpcore", "upstash_redis", "upstash_ratelimit", "supabase", "boto3")


def test_http_functions_import_no_outbound_client_at_init() -> None:
    # given each HTTP function imported on its own, in a fresh interpreter, as its cold start imports it
    import subprocess
    import sys

    modules = sorted({s.module for s in SPECS if any("httpApi" in e for e in s.events)})
    forget = (*OUTBOUND_CLIENTS, "functions", "shared")
    code = (
        "import importlib, json, sys\n"
        f"loaded = {{}}\nfor m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        f"    loaded[m] = sorted(c for c in {OUTBOUND_CLIENTS!r} if c in sys.modules)\n"
        # forget our modules and the clients, keep the rest (FastAPI, pydantic): the next import is as cold
        f"    for name in [n for n in sys.modules if n.split('.')[0] in {forget!r}]:\n"
        "        del sys.modules[name]\n"
        "print(json.dumps(loaded))"
    )
    env = {"APP_ENV": "dev", "DATABASE_URL": "postgresql://x@127.0.0.1:1/x", "SUPABASE_JWT_SECRET": "x" * 40}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True, timeout=120
    )
    # then none of them loaded an outbound client: each is imported by the first call that needs it
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded.keys() == set(modules)
    assert {m: clients for m, clients in loaded.items() if clients} == {}


def test_only_the_functions_that_call_the_model_get_the_llm_layer() -> None:
    # given each function's layers (the provider's when it lists none)
    with_llm = {
        name
        for name, spec in CONFIG["functions"].items()
        if {"Ref": "LlmLambdaLayer"} in spec.get("layers", CONFIG["provider"]["layers"])
    }
    # then only the model workers (turns, and the knowledge base's embeddings) load LiteLLM,
    # each keeping the HTTP layer (shared/) first
    assert with_llm == {"turnWorker", "knowledgeIngestion"}
    for name in with_llm:
        assert CONFIG["functions"][name]["layers"][0] == {"Ref": "HttpLambdaLayer"}
