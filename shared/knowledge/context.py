"""What a turn takes from the knowledge base, ready to wire into ``shared.turns``: the chunks for the
lead's question as a prompt block with ids, the ``search_knowledge`` tool for follow-up queries,
the citations a reply stores, and the reply when nothing passes the threshold.

Workers only: the question is embedded through LiteLLM. One retrieval statement per lookup, on the
service path filtered to the conversation's organization (what ``app.begin_turn`` returned).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from shared.db import service_session
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
NO_ANSWER = {
    "pt": "Não encontrei essa informação nos nossos materiais e não quero te passar algo errado. "
    "Posso chamar alguém da equipe para te responder?",
    "en": "I could not find that in our materials and I would rather not guess. "
    "Shall I ask someone from the team to answer you?",
}


@dataclass(frozen=True)
class Knowledge:
    """The chunks found for one question (best first) and what embedding the question cost."""

    question: str
    hits: list[retrieval.Hit] = field(default_factory=list)
    cost_usd: float = 0.0
    tokens: int = 0

    @property
    def answered(self) -> bool:
        """Whether anything passed the threshold; if not, the agent says it does not know."""
        return bool(self.hits)

    def prompt_block(self) -> str:
        """The system-prompt section: each chunk with the id the model cites."""
        if not self.hits:
            return "Knowledge: nothing in the business's documents answers this; do not make an answer up."
        lines = ["Knowledge (answer only from these; cite the ids you use as [chunk:<id>]):"]
        lines += [f"[chunk:{h.id}] {h.title} > {h.heading_path}: {h.content}" for h in self.hits]
        return "\n".join(lines)

    def citations(self, reply: str | None = None) -> list[dict[str, Any]]:
        """What the reply message stores: the chunks it cites (all of them if it names none), with versions."""
        cited = [h for h in self.hits if reply and f"chunk:{h.id}" in reply] or self.hits
        return [{"chunk_id": str(h.id), "document_id": str(h.document_id), "version": h.version} for h in cited]

    def no_answer(self, language: str) -> str:
        """The reply when nothing passed the threshold: the agent does not know and offers a person."""
        return NO_ANSWER["pt" if language.lower().startswith("pt") else "en"]


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
    async with service_session() as db:
        hits = await retrieval.search(db, query)
    return Knowledge(question, hits, embedded.cost_usd, embedded.tokens)
