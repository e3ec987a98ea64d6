"""A deterministic SDR model, served through LiteLLM as provider ``local`` (dev, tests, offline).

It reads the agent's fields and known data from the system prompt (``shared.turns.prompt``),
extracts values from the lead's latest messages and answers with OpenAI-format tool calls.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from local_runtime.model import embedding, extract, knowledge, replies
from shared.llm.sdk import (
    ChatCompletionMessageToolCall,
    CustomLLM,
    EmbeddingResponse,
    Function,
    ModelResponse,
    Usage,
    litellm,
)
from shared.turns.effects import CONVERSION_TYPES
from shared.turns.prompt import KNOWN_DATA_PREFIX

PROVIDER = "local"
_FIELD_LINE = re.compile(r"^- (\w+) \((\w+)(, required)?\): ?(.*)$")
_CONTACTS = (("name", "text"), ("email", "email"), ("phone", "phone"))
_GREETINGS = {"oi", "olá", "ola", "hi", "hello", "hey", "bom dia", "boa tarde", "boa noite", "tudo bem", "ok", "sim"}
Calls = list[tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class Field:
    """One qualification field, as the system prompt lists it."""

    name: str
    type: str
    required: bool = False
    description: str = ""


@dataclass(frozen=True)
class Brief:
    """What the model reads from one request."""

    fields: tuple[Field, ...]
    known: dict[str, Any]
    language: str
    goal: str
    texts: tuple[str, ...]
    last_reply: str | None
    tools: frozenset[str]
    knowledge: knowledge.Given


def read_request(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> Brief:
    """Parse the system prompt, the lead's latest messages (after our last reply) and the offered tools."""
    system = "\n".join(str(m.get("content") or "") for m in messages if m.get("role") == "system")
    lines = system.splitlines()
    fields = [Field(m[1], m[2], bool(m[3]), m[4]) for m in map(_FIELD_LINE.match, lines) if m]
    listed = {f.name for f in fields}
    fields += [Field(n, t) for n, t in _CONTACTS if n not in listed]  # effects accepts contact data always
    # A search_knowledge call of this turn is not a reply: the lead's messages before it still count.
    replies_at = [i for i, m in enumerate(messages) if m.get("role") == "assistant" and not m.get("tool_calls")]
    start = replies_at[-1] + 1 if replies_at else 0
    return Brief(
        fields=tuple(fields),
        known=_known(lines),
        language=_header(lines, "Language: ") or "pt-BR",
        goal=_header(lines, "Goal: ") or "qualify",
        texts=tuple(str(m.get("content") or "") for m in messages[start:] if m.get("role") == "user"),
        last_reply=str(messages[replies_at[-1]].get("content") or "") if replies_at else None,
        tools=frozenset(str(t.get("function", {}).get("name")) for t in tools or []),
        knowledge=knowledge.read(messages),
    )


def respond(brief: Brief) -> tuple[str, Calls]:
    """The reply text and tool calls for ``brief``: capture, then hand off, close, ask or convert."""
    lang = "pt" if brief.language.lower().startswith("pt") else "en"
    text = "\n".join(brief.texts)
    handoff, reason = extract.wants_human(text), extract.farewell(text)
    # A bare answer ("Ana", "uns 300 mil") fills the field we asked for, unless the lead is leaving.
    asked = None if handoff or reason else next((f for f in brief.fields if _asked(brief, f, lang)), None)
    found = {f.name: v for f in brief.fields if (v := _value(f, text, asked)) is not None}
    found = {name: value for name, value in found.items() if value != brief.known.get(name)}
    calls: Calls = [("update_lead", found)] if found else []
    if handoff:
        reply, calls = replies.HANDOFF[lang], [*calls, ("request_handoff", {"reason": "lead_asked_for_a_human"})]
    elif reason:
        reply, calls = replies.FAREWELL[lang][reason], [*calls, ("end_conversation", {"reason": reason})]
    else:
        reply, conversion = _next_move(brief, lang, found)
        calls += [("record_conversion", conversion)] if conversion else []
        if brief.knowledge.consulted:
            reply, calls = _from_knowledge(brief, lang, text, reply, calls)
    return reply, [call for call in calls if call[0] in brief.tools]


def _from_knowledge(brief: Brief, lang: str, text: str, reply: str, calls: Calls) -> tuple[str, Calls]:
    """A question of the lead answered from the given chunks before the next move, a search, or "I do not know"."""
    question = knowledge.lead_question(text)
    answered = knowledge.respond(question, brief.knowledge, lang, brief.tools) if question else None
    if answered is None:
        return reply, calls
    said, knowledge_calls = answered
    if not said:  # a search first: the rest of the answer waits for its result
        return "", knowledge_calls
    if knowledge_calls:  # nothing found: only "I do not know", and the question reported
        return said, [*calls, *knowledge_calls]
    opener = replies.acknowledge(lang, {}, first=brief.last_reply is None)
    return f"{said} {reply.removeprefix(opener)}", calls


def _next_move(brief: Brief, lang: str, found: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """Ask for the first missing required field, or propose the goal's next step with a conversion."""
    known = {**brief.known, **found}
    prefix = replies.acknowledge(lang, found, first=brief.last_reply is None)
    required = [f for f in brief.fields if f.required]
    missing = [f for f in required if known.get(f.name) in (None, "")]
    if missing:
        return prefix + replies.question(missing[0], lang), None
    if not required:  # nothing to qualify on: never convert a lead who only said hello
        return prefix + replies.HELP[lang], None
    value = next((known[f.name] for f in brief.fields if f.type == "money" and known.get(f.name)), 0)
    conversion = {"type": CONVERSION_TYPES.get(brief.goal, brief.goal), "value": value}
    return prefix + replies.next_step(lang, brief.goal), {**conversion, "currency": replies.CURRENCY[lang]}


def _value(field: Field, text: str, asked: Field | None) -> Any:
    """Extract ``field`` from ``text``; a short bare answer counts when our last reply asked for it."""
    is_asked = asked is not None and asked.name == field.name
    if field.type == "email":
        return extract.email(text)
    if field.type == "phone":
        return extract.phone(text)
    if field.type == "money":
        return extract.money(text, bare=is_asked and extract.phone(text) is None)
    if field.type == "number":
        return extract.money(text, bare=True) if is_asked else None
    if field.name == "name":
        return extract.name(text) or (_short_answer(text, 4, title=True) if is_asked else None)
    if field.name in ("timeline", "prazo"):
        return extract.timeline(text) or (_short_answer(text, 8) if is_asked else None)
    if field.type == "boolean" and is_asked:
        return extract.yes_no(text)
    return _short_answer(text, 8) if is_asked and field.type == "text" else None


def _short_answer(text: str, max_words: int, title: bool = False) -> str | None:
    words = text.strip().rstrip(".!?,;").split()
    if not words or len(words) > max_words or " ".join(words).lower() in _GREETINGS:
        return None
    if title and not all(w.isalpha() for w in words):
        return None
    return " ".join(w.capitalize() for w in words) if title else " ".join(words)


def _asked(brief: Brief, field: Field, lang: str) -> bool:
    return brief.last_reply is not None and replies.question(field, lang) in brief.last_reply


def _known(lines: list[str]) -> dict[str, Any]:
    raw = _header(lines, KNOWN_DATA_PREFIX)
    try:
        known = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return known if isinstance(known, dict) else {}


def _header(lines: list[str], prefix: str) -> str | None:
    return next((line[len(prefix) :].strip() for line in lines if line.startswith(prefix)), None)


def answer(
    model: str, messages: list[dict[str, Any]], params: dict[str, Any], response: ModelResponse
) -> ModelResponse:
    """Fill ``response`` with the reply, tool calls and a deterministic token count (chars / 4)."""
    content, calls = respond(read_request(messages, params.get("tools")))
    message = response.choices[0].message
    message.content = content
    message.tool_calls = [
        ChatCompletionMessageToolCall(
            id=f"call_{i}", type="function", function=Function(name=name, arguments=json.dumps(args))
        )
        for i, (name, args) in enumerate(calls)
    ] or None
    response.choices[0].finish_reason = "tool_calls" if calls else "stop"
    response.model = f"{PROVIDER}/{model}"
    prompt_chars = sum(len(str(m.get("content") or "")) for m in messages) + len(json.dumps(params.get("tools") or []))
    prompt_tokens = max(1, prompt_chars // 4)
    completion_tokens = max(1, (len(content) + len(json.dumps(calls))) // 4)
    response.usage = Usage(
        prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, total_tokens=prompt_tokens + completion_tokens
    )
    return response


class LocalModel(CustomLLM):
    """LiteLLM's handler for ``local/<anything>``."""

    def completion(self, model: str, messages: list[dict[str, Any]], *args: Any, **kwargs: Any) -> ModelResponse:
        return answer(model, messages, kwargs["optional_params"], kwargs["model_response"])

    async def acompletion(self, model: str, messages: list[dict[str, Any]], *args: Any, **kwargs: Any) -> ModelResponse:
        return answer(model, messages, kwargs["optional_params"], kwargs["model_response"])

    def embedding(
        self, model: str, input: list[Any], model_response: EmbeddingResponse, *args: Any, **kwargs: Any
    ) -> EmbeddingResponse:
        return embedding_response(model, input, model_response)

    async def aembedding(
        self, model: str, input: list[Any], model_response: EmbeddingResponse, *args: Any, **kwargs: Any
    ) -> EmbeddingResponse:
        return embedding_response(model, input, model_response)


_FREE = {
    "input_cost_per_token": 0.0,
    "output_cost_per_token": 0.0,
    "cache_creation_input_token_cost": 0.0,
    "cache_read_input_token_cost": 0.0,
    "max_tokens": 8192,
}


def register() -> None:
    """Make provider ``local`` known to LiteLLM; idempotent, called when a Router is built."""
    if not any(item["provider"] == PROVIDER for item in litellm.custom_provider_map):
        litellm.custom_provider_map.append({"provider": PROVIDER, "custom_handler": LocalModel()})
        # A cost-map entry turns LiteLLM's per-call model-info search (a miss, ~1 ms) into a dict hit;
        # each deployment's own input/output_cost_per_token still decides the price.
        litellm.register_model({f"{PROVIDER}/sdr": {"litellm_provider": PROVIDER, "mode": "chat", **_FREE}})
        litellm.register_model(
            {f"{PROVIDER}/hashed-{n}": {"litellm_provider": PROVIDER, "mode": "embedding", **_FREE} for n in (384, 768)}
        )


def embedding_response(model: str, inputs: list[Any], response: EmbeddingResponse) -> EmbeddingResponse:
    """Fill ``response`` with one vector per input and a deterministic token count (chars / 4)."""
    size = embedding.dimension_of(model)
    texts = [str(item) for item in inputs]
    response.data = [
        {"object": "embedding", "index": i, "embedding": embedding.embed(text, size)} for i, text in enumerate(texts)
    ]
    response.model = f"{PROVIDER}/{model}"
    tokens = max(1, sum(len(t) for t in texts) // 4)
    response.usage = Usage(prompt_tokens=tokens, completion_tokens=0, total_tokens=tokens)
    return response
