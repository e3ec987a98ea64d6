"""The README's PDF step through the local gateway: the example PDF declared, uploaded to the Storage
stand-in with the member's own token, indexed by the ingestion worker, and cited by the turn worker."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from local_runtime.aws import sqs_client
from local_runtime.gateway.app import create_gateway
from local_runtime.queues import container_invoker
from tests.e2e.conftest import drainer
from tests.e2e.test_conversation_to_conversion import AGENT, owner, run_worker  # noqa: F401  (fixtures)

pytestmark = pytest.mark.e2e
PDF = Path(__file__).resolve().parents[2] / "docs" / "examples" / "memorial-descritivo.pdf"


@pytest.fixture(scope="module")
def gateway(
    app_env: dict[str, str], database_url: str, jwt_secret: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """The gateway with the Storage stand-in as Supabase Storage (as `up` runs it)."""
    from local_runtime.dev_auth import service_role_key
    from local_runtime.storage import serve_in_thread
    from shared.settings import get_settings

    server = serve_in_thread(database_url, jwt_secret, tmp_path_factory.mktemp("storage"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SUPABASE_STORAGE_URL", server.url)
        mp.setenv("SUPABASE_SERVICE_ROLE_KEY", service_role_key(jwt_secret))
        get_settings.cache_clear()
        with TestClient(create_gateway(), base_url="http://127.0.0.1:3000") as client:
            yield client
    get_settings.cache_clear()
    server.stop()


@pytest.fixture
def run_ingestion(gateway: TestClient, aws: Any) -> Callable[[], int]:
    invoke = container_invoker(gateway.app.state.containers, "knowledgeIngestion")  # type: ignore[attr-defined]
    sqs = sqs_client(aws.endpoint)
    return drainer(sqs, aws.queues["KnowledgeQueue"], invoke)


def test_the_example_pdf_is_uploaded_indexed_and_cited_in_an_answer(
    gateway: TestClient,
    owner: dict[str, str],  # noqa: F811
    run_worker: Callable[[], int],  # noqa: F811
    run_ingestion: Callable[[], int],
) -> None:
    # given an organization with an agent, and the README's example PDF declared as a file source
    org = gateway.post("/organizations", json={"name": "Imobiliária PDF"}, headers=owner).json()
    agent = gateway.post(f"/organizations/{org['id']}/agents", json=AGENT, headers=owner).json()
    data = PDF.read_bytes()
    declared = gateway.post(
        f"/organizations/{org['id']}/knowledge/sources",
        json={
            "kind": "file",
            "title": "Memorial",
            "file_name": PDF.name,
            "media_type": "application/pdf",
            "size": len(data),
        },
        headers=owner,
    )
    assert declared.status_code == 202, declared.text
    source = declared.json()
    # when the member uploads it to the upload URL with their own token, asks for indexing and the worker runs
    uploaded = httpx.post(
        source["upload"]["url"], content=data, headers={**owner, "content-type": "application/pdf"}, timeout=30
    )
    assert uploaded.status_code == 200, uploaded.text
    assert gateway.post(f"/knowledge/sources/{source['id']}/reindex", headers=owner).status_code == 202
    assert run_ingestion() == 1
    # then the source is ready
    assert gateway.get(f"/knowledge/sources/{source['id']}", headers=owner).json()["status"] == "ready"

    # when a lead asks what the PDF answers
    started = gateway.post(f"/organizations/{org['id']}/conversations", json={"agent_id": agent["id"]}, headers=owner)
    conversation = started.json()["id"]
    asked = gateway.post(
        f"/conversations/{conversation}/messages", json={"content": "Qual é o piso da sala?"}, headers=owner
    )
    assert asked.status_code == 202, asked.text
    assert run_worker() == 1
    detail = gateway.get(f"/conversations/{conversation}?messages_limit=100", headers=owner).json()
    reply = [m for m in detail["messages"]["data"] if m["role"] == "assistant"][-1]
    # then the reply says it and cites the PDF's version 1
    assert "porcelanato 90x90" in reply["content"], reply["content"]
    assert [(c["document_id"], c["version"]) for c in reply["citations"]] == [(source["id"], 1)]
