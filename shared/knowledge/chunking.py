"""Split a document into chunks by its structure: sections (Markdown headings), then paragraphs.

Each chunk keeps its heading path ("Planos > Pro") as context, and a chunk that continues a long
section starts with the tail of the previous one (overlap), so a fact split across the boundary
is still whole in one of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
MAX_CHARS = 900
OVERLAP_CHARS = 160


@dataclass(frozen=True)
class Chunk:
    """One piece of a document, in order, with the headings above it."""

    index: int
    heading_path: str
    content: str


@dataclass(frozen=True)
class QA:
    """One FAQ entry."""

    question: str
    answer: str


def _sections(text: str) -> Iterator[tuple[str, list[str]]]:
    """(heading path, paragraphs) for each section, in order."""
    path: list[tuple[int, str]] = []
    paragraphs: list[str] = []
    lines: list[str] = []

    def flush_paragraph() -> None:
        joined = " ".join(line.strip() for line in lines).strip()
        if joined:
            paragraphs.append(joined)
        lines.clear()

    for line in text.replace("\r\n", "\n").split("\n"):
        heading = _HEADING.match(line.strip())
        if heading:
            flush_paragraph()
            if paragraphs:
                yield " > ".join(title for _, title in path), paragraphs
                paragraphs = []
            level = len(heading.group(1))
            path = [*(item for item in path if item[0] < level), (level, heading.group(2))]
        elif line.strip():
            lines.append(line)
        else:
            flush_paragraph()
    flush_paragraph()
    if paragraphs:
        yield " > ".join(title for _, title in path), paragraphs


def _pieces(paragraph: str, limit: int) -> Iterator[str]:
    """A paragraph longer than ``limit`` cut at sentence (else word) boundaries."""
    if len(paragraph) <= limit:
        yield paragraph
        return
    current = ""
    for sentence in re.split(r"(?<=[.!?;])\s+|\s+", paragraph):
        if current and len(current) + 1 + len(sentence) > limit:
            yield current
            current = ""
        current = f"{current} {sentence}".strip() if current else sentence[:limit]
    if current:
        yield current


def _tail(text: str, size: int) -> str:
    if len(text) <= size:
        return text
    cut = text[-size:]
    return cut[cut.find(" ") + 1 :] if " " in cut else cut


def chunk_text(text: str, *, max_chars: int = MAX_CHARS, overlap: int = OVERLAP_CHARS) -> list[Chunk]:
    """Chunks of at most about ``max_chars``; a section never shares a chunk with another."""
    chunks: list[Chunk] = []
    for heading_path, paragraphs in _sections(text):
        current: list[str] = []
        for piece in (p for paragraph in paragraphs for p in _pieces(paragraph, max_chars - overlap - 2)):
            if current and len("\n\n".join([*current, piece])) > max_chars:
                chunks.append(Chunk(len(chunks), heading_path, "\n\n".join(current)))
                current = [_tail(current[-1], overlap)]
            current.append(piece)
        if current:
            chunks.append(Chunk(len(chunks), heading_path, "\n\n".join(current)))
    return chunks


def chunk_faq(title: str, entries: list[QA]) -> list[Chunk]:
    """One chunk per question and answer, under the FAQ's title and the question itself."""
    return [
        Chunk(i, f"{title} > {entry.question.strip()}", f"{entry.question.strip()}\n\n{entry.answer.strip()}")
        for i, entry in enumerate(entries)
    ]


def faq_text(entries: list[QA]) -> str:
    """The FAQ as text: what its content hash is computed over."""
    return "\n\n".join(f"## {e.question.strip()}\n\n{e.answer.strip()}" for e in entries)
