"""The knowledge base in a model turn: retrieve for the lead's question, let the model search again,
and turn what it used into citations (or an unanswered question).

Only for agents with a ready source (``app.begin_turn`` returns ``knowledge`` then): the question is
embedded through LiteLLM and retrieved with one statement (``shared.knowledge.context.lookup``);
each ``search_knowledge`` call the model makes costs one more embedding and one more statement, at
most ``MAX_SEARCHES`` per turn. Workers only.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from shared.errors import InvalidInput
from shared.knowledge import context
from shared.knowledge.context import Knowledge
from shared.llm.gateway import Completion, ToolCall
from shared.observability import logger
from shared.turns.context import TurnContext
from shared.turns.outcome import Citation, KnowledgeUsage, Unanswered

MAX_SEARCHES = 2  # search_knowledge calls per turn; the model's next call is offered no search
CHUNKS = 5
ModelCall = Callable[[list[dict[str, Any]], list[dict[str, Any]]], Awaitable[Completion]]


@dataclass(frozen=True)
class Answer:
    """The turn's model answer once its searches are done, and what the knowledge base gave it."""

    completion: Completion  # tokens, cost and latency summed over every model call
    calls: list[ToolCall]  # the calls for shared.turns.effects (no knowledge tools)
    lookups: list[Knowledge]
    unanswered: str | None = None

    def reply_text(self, language: str) -> str:
        """What the lead reads: the markers out, and the "I do not know" when the model reported a gap silently."""
        text = context.strip_citations(self.completion.content)
        if not text and self.unanswered is not None and self.lookups:
            return self.lookups[0].no_answer(language)
        return text

    def citations(self) -> list[Citation]:
        """The chunks the reply cites ([chunk:<id>]) among those it was given, each once."""
        seen: dict[str, Citation] = {}
        for knowledge in self.lookups:
            for cited in knowledge.citations(self.completion.content):
                seen.setdefault(cited["chunk_id"], Citation.model_validate(cited))
        return list(seen.values())

    def usage(self) -> KnowledgeUsage | None:
        """The ledger row of the turn's embedding calls."""
        if not self.lookups:
            return None
        first = self.lookups[0]
        return KnowledgeUsage(
            model=first.model or first.alias,
            alias=first.alias,
            tokens_in=sum(k.tokens for k in self.lookups),
            latency_ms=sum(k.latency_ms for k in self.lookups),
            cost_usd=self.knowledge_cost(),
        )

    def knowledge_cost(self) -> Decimal:
        return Decimal(str(round(sum(k.cost_usd for k in self.lookups), 9)))

    def record(self) -> Unanswered | None:
        """The unanswered question to record: reported by the model, and truly found nowhere."""
        if self.unanswered is None or any(k.answered for k in self.lookups):
            return None
        return Unanswered(question=self.unanswered[:2000])


def question(ctx: TurnContext, instruction: str | None) -> str | None:
    """The lead's latest unanswered text, when the agent has knowledge to consult (not for follow-ups)."""
    if ctx.knowledge is None or instruction:
        return None
    texts = [t.strip() for t in ctx.pending_texts() if t.strip()]
    return texts[-1] if texts else None


async def consult(ctx: TurnContext, text: str) -> Knowledge | None:
    """Embed ``text`` and retrieve the agent's best chunks for it (one statement).

    None when the organization's embedding alias is not (or no longer) a configured embedding model:
    the turn goes on without knowledge rather than failing. A provider outage raises (the queue retries).
    """
    assert ctx.knowledge is not None
    try:
        return await context.lookup(
            ctx.organization_id,
            ctx.conversation.agent_id,
            text,
            language=ctx.language,
            alias=ctx.knowledge.embedding_model,
            limit=CHUNKS,
        )
    except InvalidInput as exc:
        logger.warning("knowledge skipped: the embedding model is not configured", extra={"error": exc.detail})
        return None


async def converse(
    ctx: TurnContext,
    first: Knowledge,
    messages: list[dict[str, Any]],
    tools: Sequence[dict[str, Any]],
    call: ModelCall,
) -> Answer:
    """Call the model with ``first``'s chunks in the system prompt and the knowledge tools, running its
    ``search_knowledge`` calls (at most ``MAX_SEARCHES``) and calling it again with what they found."""
    messages = [dict(m) for m in messages]
    messages[0] = {**messages[0], "content": f"{messages[0]['content']}\n{first.prompt_block()}"}
    lookups, kept, completions = [first], list[ToolCall](), list[Completion]()
    unanswered: str | None = None
    for round_ in range(MAX_SEARCHES + 1):
        offered = [*tools, context.UNANSWERED_TOOL] + ([context.SEARCH_TOOL] if round_ < MAX_SEARCHES else [])
        completion = await call(messages, offered)
        completions.append(completion)
        searches = [c for c in completion.tool_calls if c.name == "search_knowledge"]
        for made in completion.tool_calls:
            if made.name == "report_unanswered":
                unanswered = str(made.arguments.get("question") or first.question)
            elif made.name != "search_knowledge":
                kept.append(made)
        if not searches or round_ == MAX_SEARCHES:
            break
        query = str(searches[0].arguments.get("query") or first.question)[:500]
        found = await consult(ctx, query) or Knowledge(query)
        lookups.append(found)
        messages += _tool_exchange(round_, completion.content, query, found)
    return Answer(_merged(completions), kept, lookups, unanswered)


def _tool_exchange(round_: int, content: str, query: str, found: Knowledge) -> list[dict[str, Any]]:
    """The assistant's search call and its result, in OpenAI's tool-message format."""
    call_id = f"search_{round_}"
    arguments = json.dumps({"query": query}, ensure_ascii=False)
    return [
        {
            "role": "assistant",
            "content": content or None,
            "tool_calls": [
                {"id": call_id, "type": "function", "function": {"name": "search_knowledge", "arguments": arguments}}
            ],
        },
        {"role": "tool", "tool_call_id": call_id, "content": found.prompt_block()},
    ]


def _merged(completions: list[Completion]) -> Completion:
    """The last answer, with the tokens, cost and latency of every call of the turn."""
    last = completions[-1]
    return replace(
        last,
        tokens_in=sum(c.tokens_in for c in completions),
        tokens_out=sum(c.tokens_out for c in completions),
        latency_ms=sum(c.latency_ms for c in completions),
        fallback_used=any(c.fallback_used for c in completions),
        cost_usd=sum((c.cost_usd for c in completions), Decimal(0)),
    )
