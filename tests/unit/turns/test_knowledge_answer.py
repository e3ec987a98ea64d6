"""What a turn keeps from the knowledge base: citations of given chunks only, the reply without markers,
the embedding ledger row, and an unanswered question only when no lookup found anything."""

from __future__ import annotations

import uuid
from decimal import Decimal

from shared.knowledge.context import NO_ANSWER, Knowledge
from shared.knowledge.retrieval import Hit
from shared.llm.gateway import Completion
from shared.turns.knowledge import Answer


def _hit() -> Hit:
    return Hit(uuid.uuid4(), uuid.uuid4(), 3, "FAQ", "FAQ > Garagem", "Sim, duas vagas.", 0.03, 0.5, 0.1, 0.5)


def _completion(content: str) -> Completion:
    return Completion(content, (), "local/sdr", "fast", 10, 5, 1, False, Decimal("0.001"))


def _knowledge(*hits: Hit, cost: float = 0.0002) -> Knowledge:
    return Knowledge("Tem garagem?", list(hits), cost, 4, "local/hashed-384", "embed", 2)


def test_a_reply_cites_only_chunks_it_was_given_and_reads_without_markers() -> None:
    given, stranger = _hit(), uuid.uuid4()
    answer = Answer(_completion(f"Sim, duas vagas. [chunk:{given.id}] [chunk:{stranger}]"), [], [_knowledge(given)])
    assert [c.chunk_id for c in answer.citations()] == [given.id]
    assert answer.citations()[0].version == 3
    assert answer.reply_text("pt-BR") == "Sim, duas vagas."


def test_the_embedding_calls_are_one_ledger_row_with_their_summed_cost() -> None:
    answer = Answer(_completion("x"), [], [_knowledge(), _knowledge(cost=0.0003)])
    usage = answer.usage()
    assert usage is not None
    assert (usage.alias, usage.tokens_in, usage.latency_ms, usage.cost_usd) == ("embed", 8, 4, Decimal("0.0005"))


def test_a_reported_question_is_recorded_only_when_no_lookup_found_anything() -> None:
    nothing = Answer(_completion(""), [], [_knowledge(), _knowledge()], unanswered="Aceita FGTS?")
    record = nothing.record()
    assert record is not None
    assert record.question == "Aceita FGTS?"
    assert nothing.reply_text("pt-BR") == NO_ANSWER["pt"]  # a model that only reported still says it
    found_later = Answer(_completion("x"), [], [_knowledge(), _knowledge(_hit())], unanswered="Aceita FGTS?")
    assert found_later.record() is None
