"""Session services for every tier: embedded Postgres, a private Redis 7, the Upstash bridge.

Each is started only when a test asks for it, so unit tests start nothing. Set
DATABASE_URL or REDIS_URL to use servers you already run instead.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from local_runtime.migrate import apply_migrations
from local_runtime.postgres import PostgresServer, start_postgres
from tests.support.tokens import ISSUER


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    server = start_postgres(tmp_path_factory.mktemp("pg") / "data", url=os.environ.get("TEST_DATABASE_URL"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def database_url(pg_server: PostgresServer) -> Iterator[str]:
    """A fresh database with the compat script and every migration applied (no seed)."""
    url = pg_server.create_database()
    apply_migrations(url)
    yield url
    pg_server.drop_database(str(psycopg.conninfo.conninfo_to_dict(url)["dbname"]))


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A superuser connection inside a transaction that is rolled back after the test."""
    with psycopg.connect(database_url) as conn:
        yield conn
        conn.rollback()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    from local_runtime.redis_server import start_redis

    server = start_redis(tmp_path_factory.mktemp("redis"), persist=False)
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def upstash(redis_url: str) -> Iterator[tuple[str, str]]:
    """``(url, token)`` of an Upstash-REST bridge in front of the test Redis."""
    from local_runtime.upstash_bridge import serve_in_thread

    bridge = serve_in_thread(redis_url, secrets.token_urlsafe(24))
    yield bridge.url, bridge.token
    bridge.stop()


@pytest.fixture(scope="session", autouse=True)
def _container_clients() -> Iterator[None]:
    """One loop per session, like a container's: current before any handler is imported
    (Mangum adopts the current loop when it is built), closed with its clients at the end."""
    from tests.support.aio import close_container_clients, use_container_loop

    use_container_loop()
    yield
    close_container_clients()


@pytest.fixture(scope="session")
def aws() -> Iterator[Any]:
    """moto on loopback with serverless.yml's queues (``aws.queues["TurnQueue"]``)."""
    from local_runtime.aws import start_aws
    from local_runtime.gateway.routes import load_serverless

    local = start_aws(load_serverless(), visibility_timeout=30, delay_seconds=0)
    yield local
    local.stop()


@pytest.fixture(scope="session")
def jwt_secret() -> str:
    return secrets.token_urlsafe(48)


@pytest.fixture(scope="session")
def app_env(database_url: str, upstash: tuple[str, str], jwt_secret: str, aws: Any) -> Iterator[dict[str, str]]:
    """The environment a deployed function would have, pointing at the local services."""
    from local_runtime.aws import referenced_environment
    from local_runtime.gateway.routes import load_serverless

    env = {
        **aws.environment(),
        **referenced_environment(load_serverless(), aws.queues),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_CUSTOM_PROVIDER": "local_runtime.model.local_model",
        "APP_ENV": "test",
        "DATABASE_URL": database_url,
        "SUPABASE_URL": ISSUER.removesuffix("/auth/v1"),
        "SUPABASE_JWT_SECRET": jwt_secret,
        "UPSTASH_REDIS_REST_URL": upstash[0],
        "UPSTASH_REDIS_REST_TOKEN": upstash[1],
        # The bridge is a thread of this process: under the concurrency tests it can be slower than Upstash's 1 s
        # deadline, and a limit that fails open would flake a 429 test (test_upstash_outage sets 200 ms itself).
        "UPSTASH_TIMEOUT_MS": "10000",
        # One connection serves the whole session, so a write after a quiet stretch of other tests would first
        # check it (a `select 1`): the round-trip counts are of warm writes. test_lost_answers.py checks it.
        "DB_IDLE_CHECK_SECONDS": "3600",
        "POWERTOOLS_SERVICE_NAME": "conversion-agents-test",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "ConversionAgentsTest",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        from shared.auth.jwt import clear_verifier
        from shared.settings import get_settings

        get_settings.cache_clear()
        clear_verifier()
        yield env
        get_settings.cache_clear()
        clear_verifier()
