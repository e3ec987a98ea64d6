"""Chunking by structure: sections by heading, paragraphs packed, overlap, heading path kept."""

from __future__ import annotations

import itertools

from shared.knowledge.chunking import QA, chunk_faq, chunk_text


def test_each_section_is_its_own_chunk_with_its_heading_path() -> None:
    # given a document with nested headings
    text = "# Planos\n\nTrês planos.\n\n## Pro\n\nO Pro inclui suporte.\n\n## Básico\n\nO Básico é mensal."
    # when it is chunked / then no chunk mixes two sections, and each knows where it sits
    chunks = chunk_text(text)
    assert [(c.heading_path, c.content) for c in chunks] == [
        ("Planos", "Três planos."),
        ("Planos > Pro", "O Pro inclui suporte."),
        ("Planos > Básico", "O Básico é mensal."),
    ]


def test_a_long_section_is_split_with_overlap() -> None:
    # given a section far longer than a chunk
    sentences = [f"Frase número {i} sobre o contrato." for i in range(120)]
    chunks = chunk_text("# Contrato\n\n" + " ".join(sentences), max_chars=400, overlap=80)
    # then every chunk is within the limit, and each one after the first starts with the end of the previous
    assert len(chunks) > 5
    assert all(len(c.content) <= 400 for c in chunks)
    for previous, current in itertools.pairwise(chunks):
        head = current.content.split("\n\n")[0]
        assert previous.content.endswith(head)


def test_an_faq_is_one_chunk_per_question() -> None:
    chunks = chunk_faq("FAQ", [QA("Tem garagem?", "Sim."), QA("Aceita pets?", "Sim, pequenos.")])
    assert [(c.index, c.heading_path) for c in chunks] == [(0, "FAQ > Tem garagem?"), (1, "FAQ > Aceita pets?")]


def test_text_without_words_gives_no_chunks() -> None:
    assert chunk_text("  \n\n \n") == []
