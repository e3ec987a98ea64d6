"""The knowledge a turn would use: chunks with ids for the prompt, citations, and the no-answer path."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from shared.knowledge.context import lookup
from shared.runtime import run
from tests.support.api import LambdaApi

pytestmark = pytest.mark.integration
FAQ = [
    {"question": "O apartamento tem garagem?", "answer": "Sim, duas vagas de garagem cobertas no subsolo."},
    {"question": "Aceitam animais de estimação?", "answer": "Sim, o condomínio aceita pets de pequeno porte."},
]


@pytest.fixture
def org(api: LambdaApi, make_org: Callable[[], dict[str, Any]], ingest: Callable[[], int]) -> dict[str, Any]:
    org = make_org()
    body = {"kind": "faq", "title": "Perguntas", "faq": FAQ}
    response = api.call("POST", f"/organizations/{org['id']}/knowledge/sources", token=org["editor"].token, body=body)
    assert response.status == 202, response.body
    ingest()
    return org


def test_a_question_the_documents_answer_gives_chunks_with_ids_and_citations(org: dict[str, Any]) -> None:
    # when the lead asks about the garage
    knowledge = run(lookup(org["id"], None, "Tem vaga de garagem?"))
    # then the garage answer is first, the prompt names its id, and the reply citing it stores it with its version
    assert knowledge.answered
    first = knowledge.hits[0]
    assert first.heading_path == "Perguntas > O apartamento tem garagem?"
    assert f"[chunk:{first.id}]" in knowledge.prompt_block()
    reply = f"Sim, são duas vagas [chunk:{first.id}]."
    assert knowledge.citations(reply) == [
        {"chunk_id": str(first.id), "document_id": str(first.document_id), "version": 1}
    ]


def test_a_question_nothing_answers_makes_the_agent_say_it_does_not_know(org: dict[str, Any]) -> None:
    # when the lead asks something no document covers
    knowledge = run(lookup(org["id"], None, "Qual a cotação do dólar hoje?"))
    # then nothing passes the threshold, the prompt says not to make it up, and the reply offers a person
    assert not knowledge.answered
    assert "do not make an answer up" in knowledge.prompt_block()
    assert "alguém da equipe" in knowledge.no_answer("pt-BR")


def test_another_organizations_documents_are_not_searched(org: dict[str, Any]) -> None:
    assert not run(lookup(uuid.uuid4(), None, "Tem vaga de garagem?")).answered
