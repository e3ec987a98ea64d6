"""Hybrid retrieval on indexed sources: it finds the answer, respects the threshold, the agent's
sources and the tenant boundary (under the caller's claims, RLS; a crafted organization id finds nothing)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from shared.db import user_session
from shared.knowledge import embedding, retrieval
from shared.runtime import run
from tests.support.api import LambdaApi
from tests.support.tokens import claims_for

pytestmark = pytest.mark.integration
GARAGEM = "# Garagem\n\n## Vagas\n\nO apartamento de três quartos tem duas vagas de garagem cobertas no subsolo."
LAZER = "# Lazer\n\n## Piscina\n\nA piscina adulto é aquecida e funciona das 7h às 22h."


def _source(api: LambdaApi, org: dict[str, Any], title: str, content: str, agent: str | None = None) -> str:
    body = {"kind": "text", "title": title, "content": content, "agent_id": agent}
    response = api.call("POST", f"/organizations/{org['id']}/knowledge/sources", token=org["editor"].token, body=body)
    assert response.status == 202, response.body
    return str(response.json()["id"])


def _agent(database_url: str, org: dict[str, Any]) -> str:
    agent = uuid.uuid4()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "insert into public.agents (id, organization_id, name) values (%s, %s, 'Sofia')", (agent, org["id"])
        )
    return str(agent)


def _search(member: Any, org_id: uuid.UUID, text: str, agent: str | None = None) -> list[retrieval.Hit]:
    async def go() -> list[retrieval.Hit]:
        vector = (await embedding.embed(embedding.model_for(None), [text])).vectors[0]
        query = retrieval.Query(org_id, text, vector, agent_id=uuid.UUID(agent) if agent else None)
        async with user_session(claims_for(member.user_id, member.email)) as db:
            return await retrieval.search(db, query)

    return run(go())


@pytest.fixture
def indexed(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], ingest: Callable[[], int], database_url: str
) -> dict[str, Any]:
    """Two tenants holding the same document; A also has a pool document only its agent "other" reads."""
    a, b = make_org(), make_org()
    other = _agent(database_url, a)
    _source(api, a, "Garagem", GARAGEM)
    _source(api, b, "Garagem", GARAGEM)
    _source(api, a, "Lazer", LAZER, agent=other)
    ingest()
    return {"a": a, "b": b, "other": other, "sofia": _agent(database_url, a)}


def test_the_chunk_that_answers_comes_first_with_its_version(indexed: dict[str, Any]) -> None:
    # given indexed sources / when A's viewer asks about the garage
    a = indexed["a"]
    hits = _search(a["viewer"], a["id"], "Quantas vagas de garagem tem o apartamento de três quartos?")
    # then the garage chunk is first, with its heading path and version
    assert hits
    assert (hits[0].title, hits[0].heading_path, hits[0].version) == ("Garagem", "Garagem > Vagas", 1)


def test_an_unrelated_question_falls_below_the_threshold(indexed: dict[str, Any]) -> None:
    a = indexed["a"]
    assert _search(a["viewer"], a["id"], "Qual a cotação do dólar hoje?") == []


def test_another_tenants_chunks_are_never_retrieved_even_naming_its_organization(indexed: dict[str, Any]) -> None:
    # given B holds the same garage document
    a, b = indexed["a"], indexed["b"]
    # when A's owner crafts a query naming B's organization
    hits = _search(a["owner"], b["id"], "Quantas vagas de garagem tem o apartamento?")
    # then RLS leaves nothing
    assert hits == []


def test_a_source_attached_to_one_agent_is_not_read_by_another(indexed: dict[str, Any]) -> None:
    # given the pool document belongs to agent "other"
    a = indexed["a"]
    question = "A piscina é aquecida?"
    # when Sofia's turn searches / then it is not found; the other agent finds it
    assert _search(a["viewer"], a["id"], question, agent=indexed["sofia"]) == []
    assert [h.title for h in _search(a["viewer"], a["id"], question, agent=indexed["other"])][:1] == ["Lazer"]
