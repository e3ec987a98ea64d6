"""Query and response models of the analytics reports."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Dimension = Literal["agent", "agent_version", "channel", "experiment_variant", "day", "week"]
ReportName = Literal["funnel", "outcomes", "cost", "quality"]
Filter = Literal["agent_id", "agent_version", "channel", "experiment_id"]
Number = int | float | None


class ReportFilters(BaseModel):
    """The exact filters a report applied: a conversation counts when it started in [from, to)."""

    organization_id: uuid.UUID
    from_: datetime = Field(serialization_alias="from")
    to: datetime
    agent_id: uuid.UUID | None = None
    agent_version: int | None = None
    channel: str | None = None
    experiment_id: uuid.UUID | None = None
    group_by: list[Dimension] = Field(default_factory=list)


class ReportGroup(BaseModel):
    """One group's key (its dimension values) and numbers."""

    key: dict[str, str | int | None]
    metrics: dict[str, Number]


class Report(BaseModel):
    """A report: its filters, its totals over every matching conversation, and the groups."""

    report: ReportName
    filters: ReportFilters
    attribution: str = (
        "cohort by conversation start: each conversation's events, conversions, messages and LLM usage"
        " count in the period it started"
    )
    rollup_refreshed_at: datetime | None = Field(
        description="when the newest counted rollup row was computed (the refreshAnalytics cron)"
    )
    totals: dict[str, Number]
    groups: list[ReportGroup]
