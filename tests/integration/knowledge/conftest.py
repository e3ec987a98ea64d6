"""Knowledge tier: the real API handlers, the real ingestion worker on moto SQS, the local embedding model."""

from __future__ import annotations

import importlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
import pytest

from local_runtime.aws import sqs_client
from local_runtime.queues import deliver_batch
from tests.integration.api.conftest import api, make_org, make_user  # noqa: F401  (shared fixtures)
from tests.support.aio import use_container_loop
from tests.support.lambda_events import FakeLambdaContext


def new_agent(database_url: str, organization_id: object, name: str = "Agente") -> str:
    """An agent of the organization, made over the test database's own connection; its id."""
    agent = uuid.uuid4()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "insert into public.agents (id, organization_id, name) values (%s, %s, %s)", (agent, organization_id, name)
        )
    return str(agent)


@pytest.fixture
def ingest(aws: Any, app_env: dict[str, str]) -> Callable[[], int]:
    """Run the ingestion worker over everything on the knowledge queue; how many jobs it took."""
    module = importlib.import_module("functions.workers.knowledge_ingestion.handler")
    sqs, queue = sqs_client(aws.endpoint), aws.queues["KnowledgeQueue"]

    def _invoke(event: dict[str, Any]) -> Any:
        use_container_loop()
        return module.handler(event, FakeLambdaContext("knowledgeIngestion"))

    def _drain() -> int:
        total = 0
        while received := deliver_batch(sqs, queue, _invoke, batch_size=1):
            total += received
        return total

    _drain()  # jobs left by earlier tests
    return _drain


@pytest.fixture
def attempt(aws: Any, app_env: dict[str, str], ingest: Callable[[], int]) -> Callable[[], int]:
    """One delivery of the knowledge queue's next job, whose failure makes it visible again at once (a
    redelivery without waiting for the visibility timeout): how many jobs failed."""
    module = importlib.import_module("functions.workers.knowledge_ingestion.handler")
    sqs, queue = sqs_client(aws.endpoint), aws.queues["KnowledgeQueue"]
    failed: list[int] = []

    def _invoke(event: dict[str, Any]) -> Any:
        use_container_loop()
        result = module.handler(event, FakeLambdaContext("knowledgeIngestion"))
        failed.append(len(result.get("batchItemFailures") or []))
        return result

    def _once() -> int:
        failed.clear()
        assert deliver_batch(sqs, queue, _invoke, batch_size=1, retry_now=True) == 1
        return sum(failed)

    return _once


class _Pages(BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, str, bytes, float]] = {}

    def do_GET(self) -> None:
        status, media_type, body, delay = self.routes.get(self.path, (404, "text/plain", b"not found", 0.0))
        time.sleep(delay)
        self.send_response(status)
        self.send_header("content-type", media_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def pages() -> Iterator[tuple[str, dict[str, tuple[int, str, bytes, float]]]]:
    """A web server on loopback: (base URL, path -> (status, media type, body, delay seconds))."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Pages.routes
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def storage_server(database_url: str, jwt_secret: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The local Supabase Storage stand-in (local_runtime/storage.py) on its own port: its /storage/v1 URL."""
    from local_runtime.storage import serve_in_thread

    server = serve_in_thread(database_url, jwt_secret, tmp_path_factory.mktemp("storage"))
    yield server.url
    server.stop()


@pytest.fixture
def storage(storage_server: str, app_env: dict[str, str], jwt_secret: str) -> Iterator[str]:
    """Functions see the stand-in as Supabase Storage, and the worker holds a service-role key for it."""
    from local_runtime.dev_auth import service_role_key
    from shared.settings import get_settings

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SUPABASE_STORAGE_URL", storage_server)
        mp.setenv("SUPABASE_SERVICE_ROLE_KEY", service_role_key(jwt_secret))
        get_settings.cache_clear()
        yield storage_server
    get_settings.cache_clear()
