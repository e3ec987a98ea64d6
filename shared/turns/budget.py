"""What a turn does when the budget runs out: the one place that decides.

``app.begin_turn`` reserves for the agent's own model alias. When that does not fit, it
reserves nothing and says so; this module picks what follows from the agent's
``on_budget_exhausted``: try the cheaper ``fallback_model`` (one more statement, on this path
only), hand the conversation to a human, or refuse (the message keeps a ``budget-exceeded``
problem). SQL only reserves what it is told to, atomically.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shared.agents.config import AgentConfig, ModelAlias


@dataclass(frozen=True)
class WhenExhausted:
    """The decision: ``fallback`` to ``alias``, ``handoff`` or ``refuse``."""

    action: Literal["fallback", "handoff", "refuse"]
    alias: ModelAlias | None = None


def when_exhausted(config: AgentConfig) -> WhenExhausted:
    """What to do once the agent's own alias does not fit the budget."""
    if config.on_budget_exhausted == "handoff":
        return WhenExhausted("handoff")
    if config.on_budget_exhausted == "fallback" and config.fallback_model not in (None, config.model):
        return WhenExhausted("fallback", config.fallback_model)
    return WhenExhausted("refuse")


def after_fallback_failed() -> WhenExhausted:
    """The fallback alias did not fit either: refuse."""
    return WhenExhausted("refuse")
