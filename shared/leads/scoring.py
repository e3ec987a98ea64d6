"""A lead's score from the agent's rubric: points for each qualification field known."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def score(known: Mapping[str, Any], required: Sequence[str], rubric: Mapping[str, int] | None) -> int:
    """0..100. Without a rubric, the ``required`` fields share 100 points equally."""
    if rubric:
        points = sum(int(p) for name, p in rubric.items() if known.get(name) not in (None, ""))
        return max(0, min(100, points))
    if not required:
        return 0
    have = sum(1 for name in required if known.get(name) not in (None, ""))
    return round(100 * have / len(required))


def missing_required(known: Mapping[str, Any], required: Sequence[str]) -> list[str]:
    """Names of the ``required`` fields still unknown."""
    return [name for name in required if known.get(name) in (None, "")]
