"""What a turn takes from the knowledge base, ready to wire into ``shared.turns``: the chunks for the
lead's question as a prompt block with ids, the ``search_knowledge`` tool for follow-up queries,
the citations a reply stores, and the reply when nothing passes the threshold.

Workers only: the question is embedded through LiteLLM. One retrieval statement per lookup, on the
service path filtered to the conversation's organization (what ``app.begin_turn`` returned).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from shared.db import service_read
from shared.knowledge import embedding, retrieval

SEARCH_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "search_knowledge",
        "description": "Search the business's documents (FAQ, pages, manuals) for facts to answer the lead.",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string", "description": "What to look for, in the lead's words."}},
            "required": ["query"],
        },
    },
}
UNANSWERED_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "report_unanswered",
        "description": "Call when the lead asked something the business's documents do not answer: you told the "
        "lead you do not know and offered a person from the team. The question goes on the team's list.",
        "parameters": {
            "type": "object",
            "properties": {"question": {"type": "string", "description": "The lead's question."}},
            "required": ["question"],
        },
    },
}
NO_ANSWER = {
    "pt": "Não encontrei essa informação nos nossos materiais e não quero te passar algo errado. "
    "Posso chamar alguém da equipe para te responder?",
    "en": "I could not find that in our materials and I would rather not guess. "
    "Shall I ask someone from the team to answer you?",
}
KNOWLEDGE_HEADER = "Knowledge (answer only from these; cite the ids you use as [chunk:<id>]):"
NOTHING_FOUND = (
    "Knowledge: nothing in the business's documents answers this; do not make an answer up. If the lead asked "
    "for a fact, say you do not know, offer a person from the team and call report_unanswered."
)
KNOWLEDGE_END = "End of knowledge."
CITATION = re.compile(r"\s*\[chunk:([0-9a-f-]{36})\]")


@dataclass(frozen=True)
class Knowledge:
    """The chunks found for one question (best first) and what embedding the question cost."""

    question: str
    hits: list[retrieval.Hit] = field(default_factory=list)
    cost_usd: float = 0.0
    tokens: int = 0
    model: str = ""
    alias: str = ""
    latency_ms: int = 0

    @property
    def answered(self) -> bool:
        """Whether anything passed the threshold; if not, the agent says it does not know."""
        return bool(self.hits)

    def prompt_block(self) -> str:
        """The system-prompt section: each chunk under a line with the id the model cites."""
        if not self.hits:
            return NOTHING_FOUND
        lines = [KNOWLEDGE_HEADER]
        for hit in self.hits:
            where = hit.heading_path if hit.heading_path.startswith(hit.title) else f"{hit.title} > {hit.heading_path}"
            lines += [f"[chunk:{hit.id}] {where.strip(' >')}", hit.content.strip()]
        return "\n".join([*lines, KNOWLEDGE_END])

    def citations(self, reply: str | None = None) -> list[dict[str, Any]]:
        """What the reply message stores: the chunks it cites, with their sources and versions."""
        cited = set(CITATION.findall(reply or ""))
        return [
            {"chunk_id": str(h.id), "document_id": str(h.document_id), "version": h.version}
            for h in self.hits
            if str(h.id) in cited
        ]

    def no_answer(self, language: str) -> str:
        """The reply when nothing passed the threshold: the agent does not know and offers a person."""
        return NO_ANSWER["pt" if language.lower().startswith("pt") else "en"]


def strip_citations(reply: str) -> str:
    """The reply as the lead reads it: the ``[chunk:<id>]`` markers out (they are stored as citations)."""
    return CITATION.sub("", reply).strip()


async def lookup(
    organization_id: uuid.UUID,
    agent_id: uuid.UUID | None,
    question: str,
    *,
    language: str = "pt",
    alias: str | None = None,
    limit: int = 5,
) -> Knowledge:
    """Embed ``question`` and run the hybrid statement for the agent's sources."""
    model = embedding.model_for(alias)
    embedded = await embedding.embed(model, [question])
    query = retrieval.Query(
        organization_id, question, embedded.vectors[0], agent_id=agent_id, language=language, limit=limit
    )
    # One round trip (begin, statement, commit as one script): the turn's only extra statement per lookup.
    rows = await service_read(
        retrieval.statement(len(query.vector)), retrieval.params(query), settings=retrieval.SCAN_SETTINGS
    )
    hits = [retrieval.Hit(**row) for row in rows]
    return Knowledge(
        question, hits, embedded.cost_usd, embedded.tokens, embedded.model, model.alias, embedded.latency_ms
    )
