"""Graph API bodies: text split on paragraph, sentence or word boundaries; the agent's template."""

from __future__ import annotations

from typing import Any

import pytest

from shared.whatsapp import compose


def test_a_short_text_is_one_chunk_in_metas_text_body() -> None:
    assert compose.split_text("  Oi, tudo bem?  ") == ["Oi, tudo bem?"]
    assert compose.text_body("+5511987654321", "Oi") == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "5511987654321",
        "type": "text",
        "text": {"preview_url": False, "body": "Oi"},
    }


def test_exactly_the_limit_is_not_split() -> None:
    text = "a" * compose.MAX_TEXT
    assert compose.split_text(text) == [text]


def test_paragraphs_are_the_preferred_cut() -> None:
    # given two paragraphs that together exceed the limit
    first, second = "Primeiro parágrafo. " * 150, "Segundo parágrafo. " * 100
    text = first.strip() + "\n\n" + second.strip()
    # when split / then the cut is the paragraph break
    assert compose.split_text(text) == [first.strip(), second.strip()]


def test_then_sentences_then_words_and_never_mid_word() -> None:
    # given one paragraph of sentences longer than the limit
    sentence = "Temos apartamentos de dois e três quartos na região. "
    text = sentence * 100
    chunks = compose.split_text(text)
    # then every chunk fits, ends a sentence, and nothing is lost or cut inside a word
    assert all(len(c) <= compose.MAX_TEXT for c in chunks)
    assert all(c.endswith(".") for c in chunks)
    assert " ".join(chunks).split() == text.split()
    # and without sentence ends, words are kept whole
    words = ("palavra " * 1000).strip()
    chunks = compose.split_text(words, limit=100)
    assert all(len(c) <= 100 for c in chunks)
    assert all(set(c.split()) == {"palavra"} for c in chunks)


def test_a_word_longer_than_the_limit_is_the_only_hard_cut() -> None:
    url = "https://example.com/" + "x" * 200
    chunks = compose.split_text(url, limit=100)
    assert "".join(chunks) == url
    assert [len(c) for c in chunks] == [100, 100, 20]


TEMPLATE = {"name": "retomar_conversa", "language": "pt_BR", "variables": ["lead_first_name", "reply"]}


def test_the_template_fills_its_variables_single_line() -> None:
    # given the agent's template and a reply with new lines
    values = compose.template_values("Ana Souza", "Temos\n\nhorário   amanhã")
    # when the body is built
    body = compose.template_body("+5511987654321", TEMPLATE, values)
    # then it is Meta's template message with one body parameter per variable
    assert body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "5511987654321",
        "type": "template",
        "template": {
            "name": "retomar_conversa",
            "language": {"code": "pt_BR"},
            "components": [
                {
                    "type": "body",
                    "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "Temos horário amanhã"}],
                }
            ],
        },
    }


def test_a_missing_value_takes_its_default_and_a_template_without_variables_has_no_components() -> None:
    template = {**TEMPLATE, "variables": [{"source": "lead_name", "default": "cliente"}, "Equipe Sol"]}
    body = compose.template_body("+5511987654321", template, compose.template_values(None, "x"))
    assert body is not None
    assert body["template"]["components"][0]["parameters"] == [
        {"type": "text", "text": "cliente"},
        {"type": "text", "text": "Equipe Sol"},
    ]
    plain = compose.template_body("+5511987654321", {"name": "hello_world", "language": {"code": "en_US"}}, {})
    assert plain is not None
    assert plain["template"] == {"name": "hello_world", "language": {"code": "en_US"}}


@pytest.mark.parametrize(
    "template",
    [None, {}, "hello", {"name": "Hello World", "language": "pt_BR"}, {"name": "ok", "language": "portuguese"}],
)
def test_a_missing_or_invalid_template_is_none(template: Any) -> None:
    assert compose.template_body("+5511987654321", template, {}) is None
