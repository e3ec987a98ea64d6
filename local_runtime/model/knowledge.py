"""How the local model answers from the knowledge base: only from the chunks it is given, citing them.

It reads the chunks (``shared.knowledge.context.Knowledge.prompt_block``) from the system prompt and
from ``search_knowledge`` results; for a question of the lead it answers with the given paragraph
that shares most words with it, or, when nothing was given, searches once with the question's
content words and then says it does not know, offers a person and reports the question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from local_runtime.model.embedding import STOPWORDS, fold
from shared.knowledge.context import KNOWLEDGE_END, KNOWLEDGE_HEADER, NO_ANSWER, NOTHING_FOUND

_CHUNK = re.compile(r"^\[chunk:([0-9a-f-]{36})\] ?(.*)$")
_QUESTION_WORDS = {
    "qual", "quais", "quanto", "quanta", "quantos", "quantas", "quando", "onde", "como", "tem", "têm", "aceitam",
    "aceita", "posso", "pode", "vocês", "voces", "existe", "há", "what", "which", "how", "when", "where", "do",
    "does", "is", "are", "can",
}  # fmt: skip
_SMALL_TALK = {"tudo bem", "tudo bom", "como vai", "como você está", "how are you", "e aí", "beleza"}
Calls = list[tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class Chunk:
    """One chunk the model was given: its id and its text."""

    id: str
    content: str


@dataclass(frozen=True)
class Given:
    """The knowledge in a request: whether the turn consulted it, the chunks, and whether it searched already."""

    consulted: bool
    chunks: tuple[Chunk, ...]
    searched: bool


def read(messages: list[dict[str, Any]]) -> Given:
    """The knowledge sections of the system prompt and of every ``search_knowledge`` result."""
    sections = [str(m.get("content") or "") for m in messages if m.get("role") in ("system", "tool")]
    text = "\n".join(sections)
    chunks: list[Chunk] = []
    current: tuple[str, list[str]] | None = None
    for line in text.splitlines():
        found = _CHUNK.match(line)
        if found or line.startswith((KNOWLEDGE_END, KNOWLEDGE_HEADER)):
            if current:
                chunks.append(Chunk(current[0], "\n".join(current[1]).strip()))
            current = (found.group(1), []) if found else None
        elif current is not None:
            current[1].append(line)
    return Given(
        consulted=KNOWLEDGE_HEADER in text or NOTHING_FOUND in text,
        chunks=tuple(chunks),
        searched=any(m.get("role") == "tool" for m in messages),
    )


def lead_question(text: str) -> str | None:
    """The lead's question in ``text`` (a sentence asking for a fact), or None for small talk and answers."""
    for sentence in re.split(r"(?<=[?!.])\s+|\n+", text):
        sentence = sentence.strip()
        plain = fold(sentence).strip(" ?!.,")
        if not plain or any(plain == fold(s) or plain.endswith(fold(s)) for s in _SMALL_TALK):
            continue
        if sentence.endswith("?") or (plain.split() or [""])[0] in {fold(w) for w in _QUESTION_WORDS}:
            return sentence
    return None


def respond(question: str, given: Given, lang: str, tools: frozenset[str]) -> tuple[str, Calls] | None:
    """The answer to ``question`` from ``given``: a cited paragraph, a search, or "I do not know" (None: no answer)."""
    if given.chunks:
        chunk, paragraph = _best(question, given.chunks)
        return f"{paragraph} [chunk:{chunk.id}]", []
    if "search_knowledge" in tools and not given.searched:
        return "", [("search_knowledge", {"query": " ".join(_words(question)) or question})]
    calls: Calls = [("report_unanswered", {"question": question})] if "report_unanswered" in tools else []
    return NO_ANSWER[lang], calls


def _best(question: str, chunks: tuple[Chunk, ...]) -> tuple[Chunk, str]:
    """The chunk that shares most words with ``question`` (the first wins ties: the best ranked), and its
    paragraph (not itself a question, as an FAQ entry's first one is) that shares most."""
    wanted = set(_words(question))
    chunk = max(chunks, key=lambda c: (len(wanted & set(_words(c.content))), -chunks.index(c)))
    paragraphs = [p.strip() for p in chunk.content.split("\n\n") if p.strip() and not p.strip().endswith("?")]
    if not paragraphs:
        return chunk, " ".join(chunk.content.split())
    best = max(paragraphs, key=lambda p: (len(wanted & set(_words(p))), -paragraphs.index(p)))
    return chunk, " ".join(best.split())


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"\w+", fold(text)) if len(w) > 2 and w not in STOPWORDS]
