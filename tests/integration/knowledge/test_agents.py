"""Sources attached to several agents (knowledge_source_agents): attach and detach through the API,
retrieval filtered to the agent's sources, and the coverage threshold that keeps questions sharing
one word with a document from passing for an answer."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from shared.db import user_session
from shared.knowledge import embedding, retrieval
from shared.runtime import run
from tests.integration.knowledge.conftest import new_agent
from tests.support.api import LambdaApi
from tests.support.tokens import claims_for

pytestmark = pytest.mark.integration
LAZER = "# Lazer\n\n## Piscina\n\nA piscina adulto é aquecida e funciona das 7h às 22h."
OBRA = (
    "# Obra\n\n## Prazo de entrega\n\nA entrega das chaves está prevista para dezembro de 2027.\n\n"
    "## Coberturas\n\nO prédio tem quatro coberturas duplex com piscina privativa."
)


def _create(api: LambdaApi, org: dict[str, Any], content: str, **extra: Any) -> Any:
    body = {"kind": "text", "title": "Lazer", "content": content} | extra
    return api.call("POST", f"/organizations/{org['id']}/knowledge/sources", token=org["editor"].token, body=body)


def _patch(api: LambdaApi, org: dict[str, Any], source_id: str, body: dict[str, Any]) -> Any:
    return api.call("PATCH", f"/knowledge/sources/{source_id}", token=org["editor"].token, body=body)


def _titles(member: Any, org_id: uuid.UUID, text: str, agent: str | None) -> list[str]:
    async def go() -> list[retrieval.Hit]:
        vector = (await embedding.embed(embedding.model_for(None), [text])).vectors[0]
        query = retrieval.Query(org_id, text, vector, agent_id=uuid.UUID(agent) if agent else None)
        async with user_session(claims_for(member.user_id, member.email), settings=retrieval.SCAN_SETTINGS) as db:
            return await retrieval.search(db, query)

    return [hit.title for hit in run(go())]


@pytest.fixture
def agents(make_org: Callable[[], dict[str, Any]], database_url: str) -> dict[str, Any]:
    """An organization with three agents."""
    org = make_org()
    return {"org": org, **{name: new_agent(database_url, org["id"]) for name in ("sofia", "bruno", "carla")}}


def test_a_source_attached_to_two_agents_is_read_by_those_two_only(
    api: LambdaApi, agents: dict[str, Any], ingest: Callable[[], int]
) -> None:
    # given a source created for Sofia and Bruno
    org = agents["org"]
    created = _create(api, org, LAZER, agent_ids=[agents["sofia"], agents["bruno"]])
    assert created.status == 202, created.body
    assert sorted(created.json()["agent_ids"]) == sorted([agents["sofia"], agents["bruno"]])
    assert created.json()["agent_id"] is None
    ingest()
    # when each agent searches / then Sofia and Bruno find it, Carla does not
    question = "A piscina é aquecida?"
    assert _titles(org["viewer"], org["id"], question, agents["sofia"]) == ["Lazer"]
    assert _titles(org["viewer"], org["id"], question, agents["bruno"]) == ["Lazer"]
    assert _titles(org["viewer"], org["id"], question, agents["carla"]) == []


def test_agents_are_attached_and_detached_with_agent_ids_and_none_means_every_agent(
    api: LambdaApi, agents: dict[str, Any], ingest: Callable[[], int]
) -> None:
    # given a source for Sofia alone, in the one-agent form of the API
    org = agents["org"]
    created = _create(api, org, LAZER, agent_id=agents["sofia"]).json()
    assert (created["agent_id"], created["agent_ids"]) == (agents["sofia"], [agents["sofia"]])
    ingest()
    question = "A piscina é aquecida?"
    assert _titles(org["viewer"], org["id"], question, agents["carla"]) == []
    # when Carla is attached instead / then Carla reads it and Sofia no longer does
    moved = _patch(api, org, created["id"], {"agent_ids": [agents["carla"]]})
    assert moved.status == 200, moved.body
    assert (moved.json()["agent_id"], moved.json()["agent_ids"]) == (agents["carla"], [agents["carla"]])
    assert _titles(org["viewer"], org["id"], question, agents["carla"]) == ["Lazer"]
    assert _titles(org["viewer"], org["id"], question, agents["sofia"]) == []
    # and when every agent is detached / then every agent reads it, with no re-indexing
    freed = _patch(api, org, created["id"], {"agent_ids": []})
    assert (freed.json()["agent_id"], freed.json()["agent_ids"], freed.json()["status"]) == (None, [], "ready")
    assert _titles(org["viewer"], org["id"], question, agents["sofia"]) == ["Lazer"]


def test_an_agent_of_another_organization_cannot_be_attached(
    api: LambdaApi, agents: dict[str, Any], make_org: Callable[[], dict[str, Any]], database_url: str
) -> None:
    # given an agent of another organization
    org = agents["org"]
    foreign = new_agent(database_url, make_org()["id"])
    # when an editor names it on create or update / then the field is refused, and nothing changes
    refused = _create(api, org, LAZER, agent_ids=[agents["sofia"], foreign])
    assert refused.status == 422, refused.body
    assert "body.agent_ids" in refused.json()["detail"]
    source = _create(api, org, LAZER, agent_ids=[agents["sofia"]]).json()
    changed = _patch(api, org, source["id"], {"agent_ids": [foreign]})
    assert changed.status == 422, changed.body
    got = api.call("GET", f"/knowledge/sources/{source['id']}", token=org["viewer"].token).json()
    assert got["agent_ids"] == [agents["sofia"]]


def test_the_list_shows_each_sources_agents(api: LambdaApi, agents: dict[str, Any]) -> None:
    # given sources for two agents and for every agent
    org = agents["org"]
    _create(api, org, LAZER, agent_ids=[agents["sofia"], agents["bruno"]])
    _create(api, org, LAZER)
    # when a viewer lists them / then each carries its agents
    listed = api.call("GET", f"/organizations/{org['id']}/knowledge/sources", token=org["viewer"].token).json()
    assert sorted(len(s["agent_ids"]) for s in listed["data"]) == [0, 2]


def test_a_question_sharing_one_word_with_a_document_falls_below_the_threshold(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], ingest: Callable[[], int]
) -> None:
    # given a document about the building's delivery date and penthouses
    org = make_org()
    _create(api, org, OBRA, title="Obra")
    ingest()
    # when a lead asks about food delivery (only "entrega" in common) / then nothing passes
    assert _titles(org["viewer"], org["id"], "Vocês fazem entrega de comida japonesa?", None) == []
    # while a question about the document, worded with question words, is answered
    assert _titles(org["viewer"], org["id"], "Quantas coberturas existem no prédio?", None)[:1] == ["Obra"]
    assert _titles(org["viewer"], org["id"], "Quando é a entrega das chaves?", None)[:1] == ["Obra"]


def test_the_full_text_matches_answer_only_a_member_of_the_organization(
    api: LambdaApi, make_org: Callable[[], dict[str, Any]], ingest: Callable[[], int], database_url: str
) -> None:
    # given A's indexed document
    a, b = make_org(), make_org()
    _create(api, a, OBRA, title="Obra")
    ingest()
    call = "select count(*) from app.knowledge_text_matches(%s, websearch_to_tsquery('portuguese', 'coberturas'), 300)"
    with psycopg.connect(database_url) as conn:
        for member, expected in ((a["viewer"], 1), (b["owner"], 0)):
            # when A's viewer, then B's owner, call the security-definer match function for A
            claims = claims_for(member.user_id, member.email)
            conn.execute(
                "select set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true)",
                (json.dumps(claims),),
            )
            row = conn.execute(call, (a["id"],)).fetchone()
            # then only A's member gets A's match
            assert row is not None
            assert row[0] == expected, member
        conn.rollback()
