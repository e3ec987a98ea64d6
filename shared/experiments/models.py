"""Request and response models for experiments between agent versions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Metric = Literal["conversion_rate", "qualified_rate", "cost_per_conversion"]
METRICS: tuple[Metric, ...] = ("conversion_rate", "qualified_rate", "cost_per_conversion")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VariantSpec(_Body):
    """One arm: an existing version of the agent and its share of new leads (relative weight)."""

    version: int = Field(ge=1, le=2_147_483_647)
    weight: float = Field(gt=0, le=10_000, allow_inf_nan=False)


class CreateExperiment(_Body):
    """Body of ``POST /agents/{agent_id}/experiments``."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
    primary_metric: Metric = "conversion_rate"
    variants: list[VariantSpec] = Field(min_length=2, max_length=10)
    control_version: int | None = Field(default=None, ge=1, description="defaults to the first variant's version")

    @model_validator(mode="after")
    def _consistent(self) -> CreateExperiment:
        versions = [v.version for v in self.variants]
        if len(set(versions)) != len(versions):
            raise ValueError("each version appears in one variant only")
        if self.control_version is not None and self.control_version not in versions:
            raise ValueError("control_version must be one of the variants' versions")
        return self


class StopExperiment(_Body):
    """Body of ``POST /experiments/{experiment_id}/stop``: optionally promote a variant's version."""

    promote_version: int | None = Field(default=None, ge=1, le=2_147_483_647)


class Variant(BaseModel):
    """A variant as stored."""

    id: uuid.UUID
    version: int
    weight: float


class Experiment(BaseModel):
    """An experiment and its variants."""

    id: uuid.UUID
    organization_id: uuid.UUID
    agent_id: uuid.UUID
    name: str
    primary_metric: Metric
    status: Literal["running", "stopped"]
    control_version: int
    winner_version: int | None
    promoted_version: int | None = Field(description="the agent's version after promotion (a copy of the winner's)")
    started_at: datetime
    stopped_at: datetime | None
    variants: list[Variant]


class ExperimentList(BaseModel):
    """An agent's experiments, newest first."""

    data: list[Experiment]


class Estimate(BaseModel):
    """A point estimate with its 95% interval."""

    estimate: float
    low: float
    high: float


class VariantResult(BaseModel):
    """One variant's sample and metrics; differences are this variant minus the control."""

    variant_id: uuid.UUID
    version: int
    weight: float
    is_control: bool
    leads: int = Field(description="leads assigned (the unit of assignment and of every metric)")
    conversations: int
    qualified_leads: int
    converted_leads: int
    conversions: int
    llm_cost_usd: float
    metrics: dict[Metric, Estimate | None]
    difference_to_control: dict[Metric, Estimate | None] | None


class SampleRatio(BaseModel):
    """Pearson's chi-square test of the observed split of leads against the weights."""

    chi_square: float
    degrees_of_freedom: int
    p_value: float
    mismatch: bool = Field(description="p < 0.001: the assignment or the data is broken; do not trust the results")


class ExperimentResults(BaseModel):
    """Results per variant, with the methods used."""

    experiment: Experiment
    confidence: float
    methods: dict[str, str]
    sample_ratio: SampleRatio
    variants: list[VariantResult]
