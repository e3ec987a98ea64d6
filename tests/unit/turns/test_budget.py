"""What a turn does when its budget runs out (shared/turns/budget.py): pure."""

from __future__ import annotations

import pytest

from shared.agents.config import AgentConfig
from shared.turns.budget import WhenExhausted, after_fallback_failed, when_exhausted


def _config(action: str, fallback: str | None = "economy") -> AgentConfig:
    return AgentConfig.model_validate(
        {"persona": "Sofia", "model": "fast", "fallback_model": fallback, "on_budget_exhausted": action}
    )


@pytest.mark.parametrize(
    ("action", "fallback", "lead_turn", "follow_up_turn"),
    [
        ("fallback", "economy", WhenExhausted("fallback", "economy"), WhenExhausted("fallback", "economy")),
        ("fallback", None, WhenExhausted("refuse"), WhenExhausted("stop")),
        ("handoff", "economy", WhenExhausted("handoff"), WhenExhausted("stop")),
        ("refuse", "economy", WhenExhausted("refuse"), WhenExhausted("stop")),
    ],
)
def test_a_follow_up_step_falls_back_or_stops_and_is_never_handed_off(
    action: str, fallback: str | None, lead_turn: WhenExhausted, follow_up_turn: WhenExhausted
) -> None:
    # given an agent's budget policy / when its alias does not fit, for a lead's turn and for a follow-up step
    config = _config(action, fallback)
    # then a lead's turn follows the policy; a follow-up step may use the cheaper alias, else its sequence stops
    assert when_exhausted(config) == lead_turn
    assert when_exhausted(config, follow_up=True) == follow_up_turn


def test_when_the_fallback_does_not_fit_either() -> None:
    assert after_fallback_failed() == WhenExhausted("refuse")
    assert after_fallback_failed(follow_up=True) == WhenExhausted("stop")
