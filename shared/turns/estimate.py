"""How much a turn may cost before the model is called: the one token estimate.

A prompt's tokens are bounded by its characters / 3 (any tokenizer gives fewer), plus the
system prompt's overhead, plus the whole output allowance. ``app.begin_turn`` measures the
prompt's characters and applies ``Coefficients`` that this module computes per alias, so
the database and Python reserve the same amount for the same prompt.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from pydantic import BaseModel

CHARS_PER_TOKEN = 3
SYSTEM_PROMPT_CHARS = 2000
MAX_OUTPUT_TOKENS = 512


class Coefficients(BaseModel):
    """Worst-case USD for a prompt of ``n`` characters: ``n * per_char + fixed``."""

    per_char: float
    fixed: float


def coefficients(pricing: Mapping[str, Mapping[str, float]]) -> dict[str, Coefficients]:
    """Per alias, from ``{alias: {"in": usd/token, "out": usd/token}}``."""
    return {
        alias: Coefficients(
            per_char=price["in"] / CHARS_PER_TOKEN,
            fixed=SYSTEM_PROMPT_CHARS / CHARS_PER_TOKEN * price["in"] + MAX_OUTPUT_TOKENS * price["out"],
        )
        for alias, price in pricing.items()
    }


def reservation_usd(prompt_chars: int, c: Coefficients) -> Decimal:
    """What to reserve for a prompt of ``prompt_chars`` characters (the same sum SQL computes)."""
    return round(Decimal(prompt_chars) * Decimal(str(c.per_char)) + Decimal(str(c.fixed)), 6)
