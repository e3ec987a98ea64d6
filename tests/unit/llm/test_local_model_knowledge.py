"""The local model with the knowledge base: it answers only from the chunks it is given, citing them,
and otherwise searches once, then says it does not know, offers a person and reports the question."""

from __future__ import annotations

import uuid
from typing import Any

from local_runtime.model import knowledge
from local_runtime.model.local_model import read_request, respond
from shared.knowledge.context import NO_ANSWER, SEARCH_TOOL, UNANSWERED_TOOL, Knowledge, strip_citations
from shared.knowledge.retrieval import Hit
from shared.llm.tools import build_tools
from tests.unit.llm.test_local_model import TYPED, _messages

TOOLS = [*build_tools(TYPED), UNANSWERED_TOOL, SEARCH_TOOL]


def _hit(heading: str, content: str) -> Hit:
    return Hit(uuid.uuid4(), uuid.uuid4(), 1, "Perguntas", f"Perguntas > {heading}", content, 0.03, 0.5, 0.1, 0.5)


def _with_knowledge(found: Knowledge, lead: str) -> list[dict[str, Any]]:
    messages = _messages(("lead", lead))
    messages[0] = {**messages[0], "content": f"{messages[0]['content']}\n{found.prompt_block()}"}
    return messages


def test_a_question_the_chunks_answer_gets_the_answer_cited_then_the_next_question() -> None:
    # given the garage and the pets FAQ entries in the prompt
    garage = _hit("Tem garagem?", "O apartamento tem garagem?\n\nSim, duas vagas cobertas no subsolo.")
    pets = _hit("Aceitam pets?", "Aceitam pets?\n\nSim, cães e gatos de pequeno porte.")
    messages = _with_knowledge(Knowledge("q", [pets, garage]), "Oi! O apartamento tem garagem?")
    # when the model answers
    reply, calls = respond(read_request(messages, TOOLS))
    # then it gives the garage paragraph (not the pets one, though it ranks first), cites it, and goes on qualifying
    assert reply.startswith(f"Sim, duas vagas cobertas no subsolo. [chunk:{garage.id}]")
    assert strip_citations(reply) == "Sim, duas vagas cobertas no subsolo. Como posso te chamar?"
    assert calls == []


def test_with_nothing_found_it_searches_once_then_does_not_know_and_reports_the_question() -> None:
    # given a prompt that says nothing answers the question
    question = "Vocês trabalham com financiamento pela Caixa?"
    messages = _with_knowledge(Knowledge(question), question)
    # when the model answers / then it first searches with the question's content words
    reply, calls = respond(read_request(messages, TOOLS))
    assert reply == ""
    assert calls == [("search_knowledge", {"query": "voces trabalham financiamento caixa"})]
    # when the search found nothing either / then it does not know, offers a person, and reports the question
    messages += [
        {"role": "assistant", "content": None, "tool_calls": [{"id": "search_0", "type": "function"}]},
        {"role": "tool", "tool_call_id": "search_0", "content": Knowledge(question).prompt_block()},
    ]
    reply, calls = respond(read_request(messages, TOOLS))
    assert reply == NO_ANSWER["pt"]
    assert calls == [("report_unanswered", {"question": question})]


def test_small_talk_and_answers_are_not_questions_for_the_knowledge_base() -> None:
    assert knowledge.lead_question("Oi, tudo bem?") is None
    assert knowledge.lead_question("Meu nome é Ana") is None
    assert knowledge.lead_question("Oi! Quanto custa o condomínio") == "Quanto custa o condomínio"


def test_without_a_knowledge_section_the_model_does_not_consult_it() -> None:
    reply, calls = respond(read_request(_messages(("lead", "O apartamento tem garagem?")), TOOLS))
    assert "[chunk:" not in reply
    assert all(name not in ("search_knowledge", "report_unanswered") for name, _ in calls)
