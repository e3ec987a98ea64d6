"""Turn per-variant sums (computed in Postgres) into results: metrics, intervals, differences, SRM."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from shared.experiments import stats
from shared.experiments.models import Estimate, Experiment, ExperimentResults, Metric, SampleRatio, VariantResult

METHODS = {
    "conversion_rate": "Wilson score interval; difference: Newcombe hybrid score interval (method 10)",
    "qualified_rate": "Wilson score interval; difference: Newcombe hybrid score interval (method 10)",
    "cost_per_conversion": "ratio of sums per lead, delta-method normal interval; difference: variances added",
    "sample_ratio": "Pearson chi-square goodness of fit against the weights, k-1 df, mismatch when p < 0.001",
    "z": "statistics.NormalDist().inv_cdf(0.975)",
}


@dataclass(frozen=True)
class VariantSums:
    """What Postgres returns per variant: lead counts and per-lead moments of cost and conversions."""

    variant_id: uuid.UUID
    version: int
    weight: float
    leads: int
    conversations: int
    qualified: int
    converted: int
    cost: RatioSums


@dataclass(frozen=True)
class RatioSums:
    """Sums over leads of cost (x) and conversions (y): x, y, x², y², xy."""

    sx: float
    sy: float
    sxx: float
    syy: float
    sxy: float


def _estimate(interval: stats.Interval | None) -> Estimate | None:
    return None if interval is None else Estimate(estimate=interval.estimate, low=interval.low, high=interval.high)


def _moments(v: VariantSums) -> stats.RatioMoments:
    c = v.cost
    return stats.RatioMoments(v.leads, c.sx, c.sy, c.sxx, c.syy, c.sxy)


def metrics_of(v: VariantSums) -> dict[Metric, Estimate | None]:
    """Each metric with its 95% interval."""
    return {
        "conversion_rate": _estimate(stats.wilson(v.converted, v.leads)),
        "qualified_rate": _estimate(stats.wilson(v.qualified, v.leads)),
        "cost_per_conversion": _estimate(stats.ratio_interval(_moments(v))),
    }


def differences(v: VariantSums, control: VariantSums) -> dict[Metric, Estimate | None]:
    """This variant minus the control, each with its 95% interval."""
    return {
        "conversion_rate": _estimate(stats.newcombe_difference(v.converted, v.leads, control.converted, control.leads)),
        "qualified_rate": _estimate(stats.newcombe_difference(v.qualified, v.leads, control.qualified, control.leads)),
        "cost_per_conversion": _estimate(stats.ratio_difference(_moments(v), _moments(control))),
    }


def build(experiment: Experiment, sums: Sequence[VariantSums]) -> ExperimentResults:
    """The results document for ``experiment`` from its variants' sums (in variant order)."""
    control = next(v for v in sums if v.version == experiment.control_version)
    srm = stats.sample_ratio_check([v.leads for v in sums], [v.weight for v in sums])
    variants = [
        VariantResult(
            variant_id=v.variant_id,
            version=v.version,
            weight=v.weight,
            is_control=v is control,
            leads=v.leads,
            conversations=v.conversations,
            qualified_leads=v.qualified,
            converted_leads=v.converted,
            conversions=round(v.cost.sy),
            llm_cost_usd=v.cost.sx,
            metrics=metrics_of(v),
            difference_to_control=None if v is control else differences(v, control),
        )
        for v in sums
    ]
    return ExperimentResults(
        experiment=experiment,
        confidence=stats.CONFIDENCE,
        methods=METHODS,
        sample_ratio=SampleRatio(
            chi_square=srm.chi_square,
            degrees_of_freedom=srm.degrees_of_freedom,
            p_value=srm.p_value,
            mismatch=srm.mismatch,
        ),
        variants=variants,
    )
