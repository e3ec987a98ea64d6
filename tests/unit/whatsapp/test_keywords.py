"""Opt-out / opt-in keyword candidates: the whole message, trimmed and lower-cased."""

from __future__ import annotations

import pytest

from shared.whatsapp import keywords


@pytest.mark.parametrize(
    ("text", "expected"),
    [("PARAR", "parar"), ("  Stop! ", "stop"), ("sair.", "sair"), ("¿Cancelar?", "cancelar"), ("", None), (None, None)],
)
def test_a_short_message_is_a_candidate(text: str | None, expected: str | None) -> None:
    assert keywords.candidate(text) == expected


def test_a_long_message_is_never_a_keyword() -> None:
    assert keywords.candidate("stop " * 20) is None


def test_the_defaults_are_in_one_place() -> None:
    assert keywords.defaults() == {
        "opt_out": ["PARAR", "SAIR", "STOP", "CANCELAR"],
        "opt_in": ["VOLTAR", "START", "INICIAR"],
    }
