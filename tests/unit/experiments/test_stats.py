"""The interval and test formulas against published values."""

from __future__ import annotations

import math

import pytest

from shared.experiments import stats


def test_z_is_the_exact_normal_quantile() -> None:
    # given 95% / then z is the 0.975 quantile of the standard normal
    assert stats.z_value() == pytest.approx(1.959963984540054, abs=1e-12)


def test_wilson_matches_newcombe_1998_table_i() -> None:
    # given 81 of 263 (Newcombe 1998, "Two-sided confidence intervals for the single proportion", method 3)
    interval = stats.wilson(81, 263)
    # then the score interval is 0.2553 to 0.3662
    assert interval is not None
    assert (round(interval.low, 4), round(interval.high, 4)) == (0.2553, 0.3662)


@pytest.mark.parametrize(
    ("a", "n_a", "b", "n_b", "low", "high"),
    [
        (56, 70, 48, 80, 0.0524, 0.3339),  # Newcombe 1998 (difference), Table II example (a), method 10
        (9, 10, 3, 10, 0.1705, 0.8090),  # example (b)
    ],
)
def test_newcombe_hybrid_score_matches_the_paper(a: int, n_a: int, b: int, n_b: int, low: float, high: float) -> None:
    # given two independent proportions / when the difference's interval is computed
    interval = stats.newcombe_difference(a, n_a, b, n_b)
    # then it is method 10's interval from the paper
    assert interval is not None
    assert (round(interval.low, 4), round(interval.high, 4)) == (low, high)


@pytest.mark.parametrize(
    ("x", "df", "p"),
    [
        (3.841458820694124, 1, 0.05),
        (5.991464547107979, 2, 0.05),
        (7.814727903251178, 3, 0.05),
        (13.276704135987622, 4, 0.01),
        (20.515005652432873, 5, 0.001),
        (16.918977604620448, 9, 0.05),
    ],
)
def test_chi_square_survival_matches_the_tables(x: float, df: int, p: float) -> None:
    # given a critical value of the chi-square table / then the survival function gives its level
    assert stats.chi2_sf(x, df) == pytest.approx(p, rel=1e-9)


def test_chi_square_with_one_df_is_the_normal_tail() -> None:
    # given df = 1 / then P(X >= z^2) is the two-sided normal tail
    assert stats.chi2_sf(2.5**2, 1) == pytest.approx(math.erfc(2.5 / math.sqrt(2)), rel=1e-12)


def test_a_balanced_split_is_no_mismatch_and_a_skewed_one_is() -> None:
    # given weights 50/50
    fine = stats.sample_ratio_check([10_030, 9_970], [1, 1])
    broken = stats.sample_ratio_check([10_400, 9_600], [1, 1])
    # then 10,030 / 9,970 passes and 10,400 / 9,600 (chi-square 32) is flagged
    assert not fine.mismatch
    assert fine.p_value > 0.5
    assert broken.mismatch
    assert broken.chi_square == pytest.approx(32.0)


def test_ratio_interval_is_the_delta_method() -> None:
    # given three leads with costs 1, 2, 3 and conversions 0, 1, 1
    m = stats.RatioMoments(n=3, sx=6, sy=2, sxx=14, syy=2, sxy=5)
    interval = stats.ratio_interval(m)
    # then the estimate is 3 and the variance (var_x - 2 r cov + r^2 var_y) / (n mean_y^2)
    var_x, var_y, cov, r = 1.0, 1 / 3, 0.5, 3.0
    half = stats.z_value() * math.sqrt((var_x - 2 * r * cov + r * r * var_y) / (3 * (2 / 3) ** 2))
    assert interval is not None
    assert (interval.estimate, interval.low, interval.high) == pytest.approx((3.0, 3.0 - half, 3.0 + half))


def test_no_observations_gives_no_interval() -> None:
    # given an empty variant / then nothing is estimated
    assert stats.wilson(0, 0) is None
    assert stats.newcombe_difference(1, 10, 0, 0) is None
    assert stats.ratio_interval(stats.RatioMoments(0, 0, 0, 0, 0, 0)) is None
