"""Hybrid retrieval on indexed sources: it finds the answer, respects the threshold, the agent's
sources and the tenant boundary (under the caller's claims, RLS; a crafted organization id finds nothing)."""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from shared.db import service_read, user_session
from shared.knowledge import context, embedding, retrieval
from shared.runtime import run
from tests.integration.knowledge.conftest import new_agent
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


def _search(member: Any, org_id: uuid.UUID, text: str, agent: str | None = None) -> list[retrieval.Hit]:
    async def go() -> list[retrieval.Hit]:
        vector = (await embedding.embed(embedding.model_for(None), [text])).vectors[0]
        query = retrieval.Query(org_id, text, vector, agent_id=uuid.UUID(agent) if agent else None)
        async with user_session(claims_for(member.user_id, member.email), settings=retrieval.SCAN_SETTINGS) as db:
            return await retrieval.search(db, query)

    return run(go())


@pytest.fixture
def indexed(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], ingest: Callable[[], int], database_url: str
) -> dict[str, Any]:
    """Two tenants holding the same document; A also has a pool document only its agent "other" reads."""
    a, b = make_org(), make_org()
    other = new_agent(database_url, a["id"], "Sofia")
    _source(api, a, "Garagem", GARAGEM)
    _source(api, b, "Garagem", GARAGEM)
    _source(api, a, "Lazer", LAZER, agent=other)
    ingest()
    return {"a": a, "b": b, "other": other, "sofia": new_agent(database_url, a["id"], "Sofia")}


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


def _copies(
    conn: psycopg.Connection[Any], org: str, vectors: list[list[float]], *, same_text: bool, after: int = 0
) -> None:
    """Copies of the organization's first chunk with ``vectors`` as embeddings; its text, or none a search finds."""
    conn.execute(
        "insert into public.knowledge_chunks (organization_id, document_id, version, chunk_index, heading_path,"
        " content, search_config, fts, token_count, embedding)"
        " select c.organization_id, c.document_id, c.version, c.chunk_index + %(after)s + e.i, c.heading_path,"
        " case when %(same)s then c.content else 'x' end, c.search_config,"
        " case when %(same)s then c.fts else ''::tsvector end, c.token_count, e.v::extensions.vector"
        " from public.knowledge_chunks c, unnest(%(vectors)s::text[]) with ordinality as e(v, i)"
        " where c.organization_id = %(org)s and c.chunk_index = 0",
        {"vectors": [embedding.literal(v) for v in vectors], "org": org, "same": same_text, "after": after},
    )


def test_a_tenant_whose_chunks_lie_farther_than_anothers_still_finds_its_own(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], ingest: Callable[[], int], database_url: str
) -> None:
    # given two tenants with the garage document: A with 3,000 copies of its chunk near the question (cosine 0.96),
    # B with 60 a little farther (cosine 0.82) and 940 about nothing, far from it (cosine 0.3): a quarter of the
    # index, so the planner walks the HNSW index for B, and the index's nearest rows are all A's
    a, b = make_org(), make_org()
    _source(api, a, "Garagem", GARAGEM)
    _source(api, b, "Garagem", GARAGEM)
    ingest()
    question = "Quantas vagas de garagem tem o apartamento de três quartos?"
    vector = run(embedding.embed(embedding.model_for(None), [question])).vectors[0]
    rng = random.Random(7)

    def around(distance: float) -> list[float]:
        """The question's vector plus random noise ``distance`` times its length (cosine about 1/sqrt(1 + d²))."""
        noise = [rng.gauss(0, 1) for _ in vector]
        scale = distance * math.sqrt(sum(x * x for x in vector) / sum(n * n for n in noise))
        return [x + n * scale for x, n in zip(vector, noise, strict=True)]

    with psycopg.connect(database_url, autocommit=True) as conn:
        _copies(conn, a["id"], [around(0.3) for _ in range(3000)], same_text=True)
        _copies(conn, b["id"], [around(0.7) for _ in range(60)], same_text=True)
        _copies(conn, b["id"], [around(3.0) for _ in range(940)], same_text=False, after=60)
        conn.execute("analyze public.knowledge_chunks")
    query = retrieval.Query(uuid.UUID(str(b["id"])), question, vector)
    try:
        # (without pgvector's iterative scan, B's vector side is empty, so B finds nothing at all)
        plain = run(service_read(retrieval.statement(len(vector)), retrieval.params(query)))
        assert plain == []
        # when B's agent looks the question up, as its turn does
        found = run(context.lookup(uuid.UUID(str(b["id"])), None, question))
        # then it finds its own garage chunks, and only its own
        assert found.hits
        with psycopg.connect(database_url) as conn:
            owners = conn.execute(
                "select distinct organization_id::text from public.knowledge_chunks where id = any(%s)",
                ([h.id for h in found.hits],),
            ).fetchall()
        assert owners == [(str(b["id"]),)]
        assert all(h.similarity >= retrieval.MIN_SIMILARITY for h in found.hits)
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(
                "delete from public.knowledge_chunks where organization_id = any(%s) and chunk_index > 0",
                ([a["id"], b["id"]],),
            )
            conn.execute("analyze public.knowledge_chunks")
