"""WhatsApp tier: the real webhook and turn worker on Postgres, Redis and moto SQS; Graph API faked on loopback."""

from __future__ import annotations

import importlib
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from shared.settings import get_settings
from shared.whatsapp import graph, throughput
from tests.integration.whatsapp.fake_graph import FakeGraph, serve_graph
from tests.integration.whatsapp.helpers import ACCESS_TOKEN, APP_SECRET, VERIFY_TOKEN, Number, TurnQueue
from tests.integration.worker.conftest import AGENT_CONFIG
from tests.support.aio import use_container_loop
from tests.support.api import LambdaApi
from tests.support.lambda_events import FakeLambdaContext
from tests.support.tokens import hs256_token

TEMPLATE = {"name": "retomar_conversa", "language": "pt_BR", "variables": ["lead_first_name", "reply"]}
Worker = Callable[[dict[str, Any]], dict[str, Any]]


@pytest.fixture(scope="session")
def graph_api() -> Iterator[FakeGraph]:
    fake, stop = serve_graph()
    yield fake
    stop()


@pytest.fixture
def meta(app_env: dict[str, str], graph_api: FakeGraph, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGraph]:
    """The WhatsApp settings pointing at the fake Graph API, which starts each test empty; retries do not wait."""
    monkeypatch.setenv("WHATSAPP_APP_SECRET", APP_SECRET)
    monkeypatch.setenv("WHATSAPP_VERIFY_TOKEN", VERIFY_TOKEN)
    monkeypatch.setenv("WHATSAPP_GRAPH_URL", graph_api.url)
    pauses: list[float] = []

    async def _no_wait(seconds: float) -> None:
        pauses.append(seconds)

    monkeypatch.setattr(graph, "_sleep", _no_wait)
    monkeypatch.setattr(throughput, "_sleep", _no_wait)
    get_settings.cache_clear()
    graph_api.reset()
    yield graph_api
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def api(app_env: dict[str, str]) -> LambdaApi:
    return LambdaApi()


def connect_number(database_url: str, config: dict[str, Any], credentials: str) -> Number:
    """An organization with an agent (``config``), a budget, and a WhatsApp number whose token is in Vault."""
    org, agent, number = uuid.uuid4(), uuid.uuid4(), str(uuid.uuid4().int)[:15]
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "insert into public.organizations (id, name, slug) values (%s, 'WA Org', %s)", (org, f"wa-{org.hex}")
        )
        conn.execute("insert into public.agents (id, organization_id, name) values (%s, %s, 'Sofia')", (agent, org))
        conn.execute(
            "insert into public.agent_versions (organization_id, agent_id, version, config) values (%s, %s, 1, %s)",
            (org, agent, json.dumps(config)),
        )
        conn.execute(  # the organization's budget exists from its creation (app.create_default_budget)
            "update public.budgets set monthly_limit_usd = 100 where organization_id = %s and agent_id is null", (org,)
        )
        row = conn.execute(
            "insert into public.integrations (organization_id, kind, name, agent_id, external_id, secret_id)"
            " values (%s, 'whatsapp', 'Vendas', %s, %s, app.store_secret(%s, %s, 'WhatsApp token')) returning id",
            (org, agent, number, credentials, f"test:{uuid.uuid4()}"),
        ).fetchone()
    assert row is not None
    return Number(database_url, org, agent, number, uuid.UUID(str(row[0])))


@pytest.fixture
def number(database_url: str, meta: FakeGraph) -> Number:
    """A number whose agent has an approved template; credentials as the integrations API stores them."""
    config = {**AGENT_CONFIG, "whatsapp": {"template": TEMPLATE}}
    return connect_number(database_url, config, json.dumps({"access_token": ACCESS_TOKEN}))


@pytest.fixture
def turns(aws: Any) -> TurnQueue:
    return TurnQueue(aws)


@pytest.fixture(autouse=True)
def _leave_the_turn_queue_empty(aws: Any) -> Iterator[None]:
    """Turns these tests queue and do not run are removed, so later tiers find the queue as they expect."""
    yield
    TurnQueue(aws).take()


@pytest.fixture
def worker(app_env: dict[str, str]) -> Worker:
    """The turn worker's Lambda handler, invoked on the container loop."""
    module = importlib.import_module("functions.workers.turn_worker.handler")

    def _invoke(event: dict[str, Any]) -> dict[str, Any]:
        use_container_loop()
        return dict(module.handler(event, FakeLambdaContext("turnWorker")))

    return _invoke


@pytest.fixture
def make_member(database_url: str, jwt_secret: str) -> Callable[[uuid.UUID, str], str]:
    """A new user with ``role`` in the organization; returns their signed token."""

    def _make(org: uuid.UUID, role: str) -> str:
        user_id = uuid.uuid4()
        email = f"{role}-{user_id.hex[:8]}@example.com"
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("insert into auth.users (id, email) values (%s, %s)", (user_id, email))
            conn.execute(
                "insert into public.memberships (organization_id, user_id, role) values (%s, %s, %s)",
                (org, user_id, role),
            )
        return hs256_token(jwt_secret, user_id, email)

    return _make
