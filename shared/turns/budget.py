"""What a turn does when the budget runs out: the one place that decides.

``app.begin_turn`` reserves for the agent's own model alias. When that does not fit, it
reserves nothing and says so; this module picks what follows from the agent's
``on_budget_exhausted``: try the cheaper ``fallback_model`` (one more statement, on this path
only), hand the conversation to a human, or refuse (the message keeps a ``budget-exceeded``
problem). A follow-up's model-written step is never handed off or refused on a silent lead's
behalf: when no alias fits, its sequence stops with ``budget_exhausted``. SQL only reserves what it
is told to, atomically.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shared.agents.config import AgentConfig, ModelAlias


@dataclass(frozen=True)
class WhenExhausted:
    """The decision: ``fallback`` to ``alias``, ``handoff``, ``refuse``, or ``stop`` (a follow-up's sequence)."""

    action: Literal["fallback", "handoff", "refuse", "stop"]
    alias: ModelAlias | None = None


def when_exhausted(config: AgentConfig, follow_up: bool = False) -> WhenExhausted:
    """What to do once the agent's own alias does not fit the budget (``follow_up``: a follow-up step's turn)."""
    if config.on_budget_exhausted == "fallback" and config.fallback_model not in (None, config.model):
        return WhenExhausted("fallback", config.fallback_model)
    if config.on_budget_exhausted == "handoff" and not follow_up:
        return WhenExhausted("handoff")
    return after_fallback_failed(follow_up)


def after_fallback_failed(follow_up: bool = False) -> WhenExhausted:
    """The fallback alias did not fit either: refuse (a follow-up's sequence stops)."""
    return WhenExhausted("stop" if follow_up else "refuse")
