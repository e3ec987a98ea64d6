"""The local embedding model: deterministic, unit length, and lexically meaningful."""

from __future__ import annotations

import math

from local_runtime.model.embedding import dimension_of, embed


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_the_same_text_gives_the_same_unit_vector() -> None:
    first, second = embed("Tem garagem?", 384), embed("Tem garagem?", 384)
    assert first == second
    assert math.isclose(math.sqrt(sum(v * v for v in first)), 1.0)


def test_texts_sharing_words_are_closer_than_unrelated_ones() -> None:
    question = embed("O apartamento tem vaga de garagem?", 384)
    answer = embed("Cada apartamento tem duas vagas de garagem cobertas.", 384)
    unrelated = embed("A piscina aquecida funciona até as 22h.", 384)
    assert _cosine(question, answer) > _cosine(question, unrelated) + 0.2


def test_accents_do_not_matter() -> None:
    assert embed("condomínio", 384) == embed("condominio", 384)


def test_the_dimension_comes_from_the_model_name() -> None:
    assert dimension_of("hashed-768") == 768
    assert len(embed("texto", 768)) == 768
