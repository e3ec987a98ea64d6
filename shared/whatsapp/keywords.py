"""Opt-out and opt-in keywords: the defaults, and how a message is reduced to a keyword candidate.

An agent replaces a list with ``whatsapp.opt_out_keywords`` / ``whatsapp.opt_in_keywords`` in its
config; ``app.whatsapp_consent_keyword`` compares the candidate with ``lower(btrim(keyword))``.
"""

from __future__ import annotations

from typing import Final

OPT_OUT: Final[tuple[str, ...]] = ("PARAR", "SAIR", "STOP", "CANCELAR")
OPT_IN: Final[tuple[str, ...]] = ("VOLTAR", "START", "INICIAR")
# A keyword is the whole message: "stop" opts out, "don't stop the offers" does not.
MAX_KEYWORD_LENGTH = 40
_TRIM = " \t\r\n.!?,;:¡¿\"'"


def defaults() -> dict[str, list[str]]:
    """The lists used when the agent configures none, as ``app.whatsapp_receive`` expects them."""
    return {"opt_out": list(OPT_OUT), "opt_in": list(OPT_IN)}


def candidate(text: str | None) -> str | None:
    """``text`` as a keyword candidate (trimmed, lower-cased), or None when it is too long to be one."""
    if not text:
        return None
    # lower(), not casefold(): Postgres' lower() is what the other side of the comparison uses.
    value = text.strip(_TRIM).lower()
    return value if 0 < len(value) <= MAX_KEYWORD_LENGTH else None
