"""The query string every analytics route shares, validated into ``ReportFilters`` (a dependency)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, cast, get_args

from fastapi import Depends, Query
from pydantic import BaseModel, Field

from shared.analytics.models import Dimension, ReportFilters
from shared.errors import InvalidInput

DEFAULT_RANGE = timedelta(days=30)
MAX_RANGE = timedelta(days=731)
_DIMENSIONS: tuple[str, ...] = get_args(Dimension)


def parse_range(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    """``[from, to)`` in UTC: ``to`` defaults to now, ``from`` to 30 days before ``to``; at most two years."""
    end = _aware(end, "query.to") if end is not None else datetime.now(UTC)
    start = _aware(start, "query.from") if start is not None else end - DEFAULT_RANGE
    if start >= end:
        raise InvalidInput.for_field("query.from", "must be before query.to")
    if end - start > MAX_RANGE:
        raise InvalidInput.for_field("query.from", "the range spans at most 731 days")
    return start, end


def _aware(value: datetime, field: str) -> datetime:
    if value.tzinfo is None:
        raise InvalidInput.for_field(field, "needs a UTC offset (e.g. 2026-11-01T00:00:00Z)")
    return value.astimezone(UTC)


def parse_group_by(text: str | None) -> list[Dimension]:
    """A comma-separated list of dimensions, each at most once, at most one of day and week."""
    names = [n.strip() for n in (text or "").split(",") if n.strip()]
    unknown = [n for n in names if n not in _DIMENSIONS]
    if unknown:
        raise InvalidInput.for_field(
            "query.group_by", f"unknown dimension {unknown[0]!r}; use {', '.join(_DIMENSIONS)}"
        )
    if len(set(names)) != len(names) or {"day", "week"} <= set(names):
        raise InvalidInput.for_field("query.group_by", "each dimension at most once, and day or week, not both")
    return [cast(Dimension, n) for n in names]


class ReportParams(BaseModel):
    """The report's query parameters as sent, validated in one pass (one model, not one field at a time)."""

    start: datetime | None = Field(default=None, alias="from", description="inclusive, ISO 8601 with offset")
    end: datetime | None = Field(default=None, alias="to", description="exclusive, ISO 8601 with offset")
    agent_id: uuid.UUID | None = None
    agent_version: int | None = Field(default=None, ge=1, le=2_147_483_647)
    channel: str | None = Field(default=None, pattern="^(web|whatsapp|api)$")
    experiment_id: uuid.UUID | None = None
    group_by: str | None = Field(default=None, max_length=200, description="comma-separated: " + ", ".join(_DIMENSIONS))


async def report_filters(organization_id: uuid.UUID, query: Annotated[ReportParams, Query()]) -> ReportFilters:
    """Every filter a report applies, echoed back in its response (async: no threadpool hop per request)."""
    start, end = parse_range(query.start, query.end)
    return ReportFilters(
        organization_id=organization_id,
        from_=start,
        to=end,
        agent_id=query.agent_id,
        agent_version=query.agent_version,
        channel=query.channel,
        experiment_id=query.experiment_id,
        group_by=parse_group_by(query.group_by),
    )


ReportQuery = Annotated[ReportFilters, Depends(report_filters)]
