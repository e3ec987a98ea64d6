"""The budget body: a period kind and a list of alert thresholds, validated and put in firing order."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from shared.spend.models import SetBudget


def test_thresholds_are_deduplicated_and_sorted_and_the_period_defaults_to_a_month() -> None:
    # given thresholds out of order, one twice / when the body is read
    body = SetBudget.model_validate({"limit_usd": "10", "alert_thresholds": ["1", "0.5", "0.8", "0.5"]})
    # then each fires once, smallest first, over a month
    assert body.alert_thresholds == [Decimal("0.5"), Decimal("0.8"), Decimal("1")]
    assert body.period == "month"


@pytest.mark.parametrize(
    "body",
    [
        {"limit_usd": "10", "period": "year"},
        {"limit_usd": "10", "alert_thresholds": []},
        {"limit_usd": "10", "alert_thresholds": ["0"]},
        {"limit_usd": "10", "alert_thresholds": ["1.01"]},
        {"limit_usd": "10", "alert_thresholds": ["0.1"] * 11},
        {"monthly_limit_usd": "10"},
    ],
)
def test_bad_periods_and_thresholds_are_refused(body: dict[str, object]) -> None:
    # given a body with an unknown period, no threshold, one out of (0, 1], too many, or the old field name
    # when it is read / then it is refused
    with pytest.raises(ValidationError):
        SetBudget.model_validate(body)
