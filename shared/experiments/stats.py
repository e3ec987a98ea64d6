"""Intervals and tests for experiment results, from documented formulas (no approximations of our own).

- z quantiles: ``statistics.NormalDist().inv_cdf`` (exact to double precision).
- One proportion: Wilson score interval (Wilson 1927).
- Difference of two proportions: Newcombe's hybrid score interval, method 10 of
  Newcombe (1998), "Interval estimation for the difference between independent proportions",
  Statistics in Medicine 17:873-890, built from the two Wilson intervals.
- Ratio of sums (cost per conversion, unit = lead): the delta method for a ratio metric
  (Deng, Knoblich, Lu 2018, "Applying the Delta Method in Metric Analytics", KDD), normal interval;
  the difference of two independent ratios adds their variances.
- Sample-ratio mismatch: Pearson's chi-square goodness-of-fit test against the configured weights,
  k - 1 degrees of freedom; its survival function in closed form for integer degrees of freedom
  (Abramowitz & Stegun 26.4.4 and 26.4.5: a finite Poisson sum for even df, erfc plus a finite sum
  for odd df), exact up to floating point.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

CONFIDENCE = 0.95
SRM_ALPHA = 0.001  # a split this unlikely under the configured weights means the assignment is broken


@dataclass(frozen=True)
class Interval:
    """A point estimate with its two-sided interval."""

    estimate: float
    low: float
    high: float


def z_value(confidence: float = CONFIDENCE) -> float:
    """The two-sided standard-normal quantile for ``confidence`` (1.959963984540054 for 95%)."""
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson(successes: int, n: int, confidence: float = CONFIDENCE) -> Interval | None:
    """Wilson score interval for successes / n; None without observations."""
    if n <= 0:
        return None
    z = z_value(confidence)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half))


def newcombe_difference(
    successes_a: int, n_a: int, successes_b: int, n_b: int, confidence: float = CONFIDENCE
) -> Interval | None:
    """Newcombe's hybrid score interval for p_a - p_b; None when either side is empty."""
    a = wilson(successes_a, n_a, confidence)
    b = wilson(successes_b, n_b, confidence)
    if a is None or b is None:
        return None
    d = a.estimate - b.estimate
    low = d - math.sqrt((a.estimate - a.low) ** 2 + (b.high - b.estimate) ** 2)
    high = d + math.sqrt((a.high - a.estimate) ** 2 + (b.estimate - b.low) ** 2)
    return Interval(d, low, high)


@dataclass(frozen=True)
class RatioMoments:
    """Per-unit sums for a ratio metric sum(x) / sum(y): n units, sums of x, y, x², y², xy."""

    n: int
    sx: float
    sy: float
    sxx: float
    syy: float
    sxy: float

    def ratio(self) -> float | None:
        return self.sx / self.sy if self.sy > 0 else None

    def variance(self) -> float | None:
        """Delta-method variance of the ratio of means; None when it is undefined."""
        if self.n < 2 or self.sy <= 0:
            return None
        n = self.n
        mx, my = self.sx / n, self.sy / n
        var_x = (self.sxx - n * mx * mx) / (n - 1)
        var_y = (self.syy - n * my * my) / (n - 1)
        cov = (self.sxy - n * mx * my) / (n - 1)
        r = mx / my
        return max(0.0, (var_x - 2 * r * cov + r * r * var_y) / (n * my * my))


def ratio_interval(m: RatioMoments, confidence: float = CONFIDENCE) -> Interval | None:
    """Delta-method normal interval for sum(x) / sum(y)."""
    r, v = m.ratio(), m.variance()
    if r is None or v is None:
        return None
    half = z_value(confidence) * math.sqrt(v)
    return Interval(r, r - half, r + half)


def ratio_difference(a: RatioMoments, b: RatioMoments, confidence: float = CONFIDENCE) -> Interval | None:
    """Interval for ratio(a) - ratio(b) of independent groups (variances add)."""
    ra, rb, va, vb = a.ratio(), b.ratio(), a.variance(), b.variance()
    if ra is None or rb is None or va is None or vb is None:
        return None
    half = z_value(confidence) * math.sqrt(va + vb)
    return Interval(ra - rb, ra - rb - half, ra - rb + half)


def chi2_sf(x: float, df: int) -> float:
    """P(X >= x) for X ~ chi-square with integer ``df`` >= 1 (A&S 26.4.4 / 26.4.5)."""
    if df < 1:
        raise ValueError("df must be a positive integer")
    if x <= 0:
        return 1.0
    half = x / 2
    if df % 2 == 0:  # Q = e^{-x/2} * sum_{i < df/2} (x/2)^i / i!
        term, total = 1.0, 1.0
        for i in range(1, df // 2):
            term *= half / i
            total += term
        return min(1.0, math.exp(-half) * total)
    # Q = erfc(sqrt(x/2)) + e^{-x/2} * sum_{i=1}^{(df-1)/2} (x/2)^{i-1/2} / Gamma(i + 1/2)
    total = math.erfc(math.sqrt(half))
    term = math.sqrt(half) / math.gamma(1.5)
    for i in range(1, (df - 1) // 2 + 1):
        if i > 1:
            term *= half / (i - 0.5)
        total += math.exp(-half) * term
    return min(1.0, total)


@dataclass(frozen=True)
class SampleRatioCheck:
    """Pearson's chi-square test of the observed split against the configured weights."""

    chi_square: float
    degrees_of_freedom: int
    p_value: float
    mismatch: bool


def sample_ratio_check(observed: Sequence[int], weights: Sequence[float], alpha: float = SRM_ALPHA) -> SampleRatioCheck:
    """Flag a mismatch when the split is less likely than ``alpha`` under the weights."""
    total, weight_sum = sum(observed), float(sum(weights))
    df = len(observed) - 1
    if total == 0 or df < 1:
        return SampleRatioCheck(0.0, max(df, 0), 1.0, False)
    chi = sum(
        (o - total * w / weight_sum) ** 2 / (total * w / weight_sum) for o, w in zip(observed, weights, strict=True)
    )
    p = chi2_sf(chi, df)
    return SampleRatioCheck(chi, df, p, p < alpha)
