"""Turns of an agent with a knowledge base: the real worker, Router, local chat and embedding models and
ingestion on real Postgres. An answer cites its chunks, a question nothing answers gets "I do not know"
and a person offered (and goes on the unanswered list), and retrieval costs one statement per lookup."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from shared.knowledge.context import NO_ANSWER
from shared.knowledge.ingestion import ingest
from shared.runtime import run
from tests.integration.worker.conftest import Tenant, sqs_event
from tests.integration.worker.test_turn_decisions import _statements
from tests.support.aio import use_container_loop

pytestmark = pytest.mark.integration
Worker = Callable[[dict[str, Any]], dict[str, Any]]
FAQ = [
    {"question": "O apartamento tem garagem?", "answer": "Sim, duas vagas de garagem cobertas no subsolo."},
    {"question": "Aceitam animais de estimação?", "answer": "Sim, o condomínio aceita pets de pequeno porte."},
]


def add_faq(tenant: Tenant, agent: uuid.UUID | None = None) -> uuid.UUID:
    """An FAQ source of the tenant (for ``agent``, or for all its agents), indexed by the ingestion use case."""
    with psycopg.connect(tenant.url, autocommit=True) as conn:
        row = conn.execute(
            "insert into public.knowledge_documents (organization_id, agent_id, title, kind, faq)"
            " values (%s, %s, 'Perguntas', 'faq', %s) returning id",
            (tenant.org, agent, json.dumps(FAQ)),
        ).fetchone()
    assert row is not None
    use_container_loop()
    assert run(ingest(row[0])) == "ready"
    return uuid.UUID(str(row[0]))


@pytest.fixture
def faq(tenant: Tenant) -> uuid.UUID:
    return add_faq(tenant)


def _reply(tenant: Tenant, conversation: uuid.UUID) -> dict[str, Any]:
    [reply] = tenant.query(
        "select id, content, citations from public.messages where conversation_id = %s and role = 'assistant'",
        conversation,
    )
    return reply


def test_a_question_the_faq_answers_gets_the_answer_with_its_citation(
    tenant: Tenant, worker: Worker, faq: uuid.UUID
) -> None:
    # given an agent whose organization has an FAQ, and a lead asking about the garage
    conversation = tenant.conversation()
    message = tenant.lead_says(conversation, "Oi! O apartamento tem vaga de garagem?")
    # when the turn runs
    assert worker(sqs_event((conversation, message))) == {"batchItemFailures": []}
    # then the reply gives the FAQ's answer (no citation markers left in it) and stores the cited chunk and version
    reply = _reply(tenant, conversation)
    assert "duas vagas de garagem cobertas no subsolo" in reply["content"]
    assert "[chunk:" not in reply["content"]
    [chunk] = tenant.query(
        "select id, version from public.knowledge_chunks where document_id = %s and content like %s",
        faq,
        "%garagem cobertas%",
    )
    assert reply["citations"] == [{"chunk_id": str(chunk["id"]), "document_id": str(faq), "version": chunk["version"]}]
    # and the embedding of the question has its own ledger row, part of the turn's cost
    rows = tenant.query(
        "select alias, tokens_in from public.llm_usage where conversation_id = %s order by tokens_out", conversation
    )
    assert [r["alias"] for r in rows] == ["embed", "fast"]
    assert tenant.query("select 1 from public.knowledge_unanswered where conversation_id = %s", conversation) == []


def test_a_question_nothing_answers_gets_i_do_not_know_a_person_offered_and_an_unanswered_row(
    tenant: Tenant, worker: Worker, faq: uuid.UUID
) -> None:
    # given the FAQ, and a lead asking something it does not cover
    conversation = tenant.conversation()
    question = "Vocês trabalham com financiamento pela Caixa?"
    message = tenant.lead_says(conversation, question)
    # when the turn runs
    assert worker(sqs_event((conversation, message))) == {"batchItemFailures": []}
    # then the agent says it does not know and offers a person, cites nothing, and the question is recorded
    reply = _reply(tenant, conversation)
    assert reply["content"] == NO_ANSWER["pt"]
    assert reply["citations"] is None
    [row] = tenant.query(
        "select agent_id, organization_id, message_id, question from public.knowledge_unanswered"
        " where conversation_id = %s",
        conversation,
    )
    assert (row["agent_id"], row["organization_id"], row["message_id"]) == (tenant.agent, tenant.org, message)
    assert row["question"] == question
    # and the conversation stays with the bot: offering a person is not handing off
    [conv] = tenant.query("select status from public.conversations where id = %s", conversation)
    assert conv["status"] == "bot"


def test_small_talk_of_an_agent_with_knowledge_is_not_an_unanswered_question(
    tenant: Tenant, worker: Worker, faq: uuid.UUID
) -> None:
    conversation = tenant.conversation()
    message = tenant.lead_says(conversation, "Oi, tudo bem?")
    worker(sqs_event((conversation, message)))
    assert _reply(tenant, conversation)["content"] != NO_ANSWER["pt"]
    assert tenant.query("select 1 from public.knowledge_unanswered where conversation_id = %s", conversation) == []


def test_another_agents_faq_is_not_used(tenant: Tenant, worker: Worker) -> None:
    # given an FAQ attached to another agent of the same organization only
    other = uuid.uuid4()
    with psycopg.connect(tenant.url, autocommit=True) as conn:
        conn.execute("insert into public.agents (id, organization_id, name) values (%s, %s, 'C')", (other, tenant.org))
    add_faq(tenant, other)
    conversation = tenant.conversation()
    message = tenant.lead_says(conversation, "O apartamento tem garagem?")
    # when our agent's turn runs
    with _statements() as sent:
        worker(sqs_event((conversation, message)))
    # then it has no knowledge to consult: no retrieval, nothing cited, two round trips
    assert len(sent) == 2, sent
    assert _reply(tenant, conversation)["citations"] is None


def test_a_turn_with_knowledge_adds_one_statement_per_lookup(tenant: Tenant, worker: Worker, faq: uuid.UUID) -> None:
    # given a warm worker
    warm = tenant.conversation()
    worker(sqs_event((warm, tenant.lead_says(warm, "Oi"))))
    answered, unanswered = tenant.conversation(), tenant.conversation()
    first = tenant.lead_says(answered, "Aceitam animais de estimação?")
    second = tenant.lead_says(unanswered, "Qual o horário de funcionamento da piscina?")
    # when a question the FAQ answers is asked
    with _statements() as sent:
        worker(sqs_event((answered, first)))
    # then: begin_turn, one retrieval, finish_turn
    assert len(sent) == 3, sent
    # when one nothing answers is asked: the model searches once more before it says it does not know
    with _statements() as sent:
        worker(sqs_event((unanswered, second)))
    assert len(sent) == 4, sent


def test_the_realtime_payload_of_a_reply_carries_its_citations(tenant: Tenant) -> None:
    # given the publication Supabase Realtime streams message rows from (postgres_changes)
    [published] = tenant.query(
        "select attnames from pg_publication_tables"
        " where pubname = 'supabase_realtime' and schemaname = 'public' and tablename = 'messages'"
    )
    # then the citations column is in every inserted row's payload, and members may read it
    assert "citations" in published["attnames"]
    [grant] = tenant.query(
        "select has_column_privilege('authenticated', 'public.messages', 'citations', 'select') as ok"
    )
    assert grant["ok"]


def test_an_embedding_alias_no_longer_configured_leaves_the_turn_without_knowledge(
    tenant: Tenant, worker: Worker, faq: uuid.UUID
) -> None:
    # given an organization whose embedding alias was removed from the LiteLLM config
    with psycopg.connect(tenant.url, autocommit=True) as conn:
        conn.execute(
            'update public.organizations set settings = settings || \'{"knowledge_embedding_model": "gone"}\''
            " where id = %s",
            (tenant.org,),
        )
    conversation = tenant.conversation()
    message = tenant.lead_says(conversation, "O apartamento tem garagem?")
    # when the turn runs / then the lead still gets a reply, with nothing cited and no embedding charged
    assert worker(sqs_event((conversation, message))) == {"batchItemFailures": []}
    assert _reply(tenant, conversation)["citations"] is None
    rows = tenant.query("select alias from public.llm_usage where conversation_id = %s", conversation)
    assert [r["alias"] for r in rows] == ["fast"]
