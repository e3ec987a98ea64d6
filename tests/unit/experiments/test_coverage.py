"""Simulation: the 95% interval of the difference to control covers the true difference ~95% of the time.

The intervals come from ``shared.experiments.results.differences``, the code the results API uses.
"""

from __future__ import annotations

import random
import uuid

from shared.experiments.results import RatioSums, VariantSums, differences

TRUE_CONTROL, TRUE_VARIANT = 0.10, 0.13
RUNS, LEADS_PER_ARM = 1_000, 400


def _arm(rng: random.Random, p: float, version: int) -> VariantSums:
    converted = sum(rng.random() < p for _ in range(LEADS_PER_ARM))
    return VariantSums(
        uuid.uuid4(),
        version,
        1.0,
        LEADS_PER_ARM,
        LEADS_PER_ARM,
        converted,
        converted,
        RatioSums(0.0, float(converted), 0.0, float(converted), 0.0),
    )


def coverage(seed: int = 20261130) -> float:
    """Share of runs whose conversion-rate difference interval contains the true difference."""
    rng = random.Random(seed)
    covered = 0
    for _ in range(RUNS):
        control, variant = _arm(rng, TRUE_CONTROL, 1), _arm(rng, TRUE_VARIANT, 2)
        interval = differences(variant, control)["conversion_rate"]
        assert interval is not None
        covered += interval.low <= TRUE_VARIANT - TRUE_CONTROL <= interval.high
    return covered / RUNS


def test_the_difference_interval_covers_the_true_difference_about_95_percent_of_runs() -> None:
    # given 1,000 experiments of 400 leads per arm with true rates 10% and 13%
    # when each run's 95% interval for the difference is computed
    share = coverage()
    print(f"coverage of the true difference over {RUNS} runs: {share:.3f}")
    # then about 95% of them cover it (1,000 runs: a binomial standard error of 0.7 points)
    assert 0.93 <= share <= 0.97
