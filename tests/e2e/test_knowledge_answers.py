"""The README's knowledge walkthrough through the local gateway, the ingestion worker and the turn worker
with the local models: an FAQ and a text source, a cited answer, and an unanswered question listed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from local_runtime.aws import sqs_client
from local_runtime.queues import container_invoker
from shared.knowledge.context import NO_ANSWER
from tests.e2e.conftest import drainer
from tests.e2e.test_conversation_to_conversion import AGENT, owner, run_worker  # noqa: F401  (fixtures)

pytestmark = pytest.mark.e2e
FAQ = [
    {"question": "O apartamento tem garagem?", "answer": "Sim, duas vagas cobertas no subsolo."},
    {"question": "Aceitam pets?", "answer": "Sim, cães e gatos de pequeno porte."},
]
GUIDE = "# Condomínio\n\n## Lazer\n\nA piscina aquecida funciona das 8h às 22h, todos os dias.\n"


@pytest.fixture
def run_ingestion(gateway: TestClient, aws: Any) -> Callable[[], int]:
    invoke = container_invoker(gateway.app.state.containers, "knowledgeIngestion")  # type: ignore[attr-defined]
    sqs = sqs_client(aws.endpoint)
    return drainer(sqs, aws.queues["KnowledgeQueue"], invoke)


def test_the_agent_answers_from_the_sources_with_citations_and_lists_what_it_could_not_answer(
    gateway: TestClient,
    owner: dict[str, str],  # noqa: F811
    run_worker: Callable[[], int],  # noqa: F811
    run_ingestion: Callable[[], int],
) -> None:
    # given an organization with an agent, an FAQ and a text source, indexed
    org = gateway.post("/organizations", json={"name": "Imobiliária KB"}, headers=owner).json()
    agent = gateway.post(f"/organizations/{org['id']}/agents", json=AGENT, headers=owner).json()
    sources = f"/organizations/{org['id']}/knowledge/sources"
    faq = gateway.post(sources, json={"kind": "faq", "title": "Perguntas frequentes", "faq": FAQ}, headers=owner)
    guide = gateway.post(sources, json={"kind": "text", "title": "Guia do condomínio", "content": GUIDE}, headers=owner)
    assert (faq.status_code, guide.status_code) == (202, 202), (faq.text, guide.text)
    assert run_ingestion() == 2
    started = gateway.post(f"/organizations/{org['id']}/conversations", json={"agent_id": agent["id"]}, headers=owner)
    conversation = started.json()["id"]

    def ask(text: str) -> dict[str, Any]:
        accepted = gateway.post(f"/conversations/{conversation}/messages", json={"content": text}, headers=owner)
        assert accepted.status_code == 202, accepted.text
        assert run_worker() == 1
        detail = gateway.get(f"/conversations/{conversation}?messages_limit=100", headers=owner).json()
        return [m for m in detail["messages"]["data"] if m["role"] == "assistant"][-1]

    # when the lead asks what the FAQ answers / then the reply says it and the API returns its citation
    garage = ask("Oi! O apartamento tem garagem?")
    assert "duas vagas cobertas no subsolo" in garage["content"]
    [cited] = garage["citations"]
    assert (cited["document_id"], cited["version"]) == (faq.json()["id"], 1)
    # when the lead asks what the text source answers / then that source is cited
    pool = ask("Até que horas funciona a piscina?")
    assert "8h às 22h" in pool["content"]
    assert [c["document_id"] for c in pool["citations"]] == [guide.json()["id"]]
    # when the lead asks what no source answers / then the agent does not know, offers a person, and lists it
    unknown = ask("Vocês trabalham com financiamento pela Caixa?")
    assert unknown["content"] == NO_ANSWER["pt"]
    assert unknown["citations"] is None
    listed = gateway.get(f"/agents/{agent['id']}/knowledge/unanswered", headers=owner)
    assert listed.status_code == 200, listed.text
    assert [q["question"] for q in listed.json()["data"]] == ["Vocês trabalham com financiamento pela Caixa?"]
    assert listed.json()["data"][0]["conversation_id"] == conversation
