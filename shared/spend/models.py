"""Request and response models for budgets and LLM usage."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from shared.agents.config import BudgetAction

Usd = Decimal
Period = Literal["day", "week", "month"]
Threshold = Annotated[Decimal, Field(gt=0, le=1, max_digits=4, decimal_places=3)]


def _ascending(values: list[Decimal]) -> list[Decimal]:
    """Each threshold once, smallest first (the order alerts fire in)."""
    return sorted(set(values))


class SetBudget(BaseModel):
    """Body of ``PUT /organizations/{organization_id}/budgets``: every field is replaced (spend is kept)."""

    model_config = ConfigDict(extra="forbid")

    agent_id: uuid.UUID | None = Field(default=None, description="null: the organization's budget")
    limit_usd: Usd = Field(ge=0, max_digits=14, decimal_places=6, description="the most the period may spend")
    period: Period = Field(
        default="month", description="calendar day, ISO week (Monday first) or month in the organization's time zone"
    )
    per_conversation_limit_usd: Usd | None = Field(
        default=None, ge=0, max_digits=14, decimal_places=6, description="the organization's budget only"
    )
    alert_thresholds: Annotated[list[Threshold], AfterValidator(_ascending)] = Field(
        default_factory=lambda: [Decimal("0.8")],
        min_length=1,
        max_length=10,
        description="shares of the limit; budget.threshold_reached is sent once per period for each",
    )


class Reservations(BaseModel):
    """Reservations still open on a budget: a stuck one shows here (expired ones are released by a cron)."""

    count: int
    amount_usd: float
    oldest_at: datetime | None
    expired: int


class ExhaustionPolicy(BaseModel):
    """What an agent does when a budget runs out: its own config's ``on_budget_exhausted`` (read, not stored here).

    Set it with ``PATCH /agents/{id}``; ``shared/turns/budget.py`` decides from it.
    """

    agent_id: uuid.UUID
    on_budget_exhausted: BudgetAction = Field(description="as configured on the agent's current version")
    fallback_model: str | None
    effective: BudgetAction = Field(description="what a turn does: fallback without a distinct fallback_model refuses")


class Budget(BaseModel):
    """A budget with its current period's spend (from the ledger) and what is still reserved."""

    id: uuid.UUID
    organization_id: uuid.UUID
    agent_id: uuid.UUID | None
    period: Period
    time_zone: str = Field(description="the organization's; the period is calendar-aligned in it")
    period_start: date = Field(description="the period's first local date")
    period_end: date = Field(description="the next period's first local date (exclusive)")
    period_starts_at: datetime
    period_ends_at: datetime
    limit_usd: float
    per_conversation_limit_usd: float | None
    alert_thresholds: list[float]
    alerts_reached: list[float] = Field(description="the thresholds this period's spend has reached")
    spent_usd: float = Field(description="sum of llm_usage.cost_usd in the period (the ledger)")
    counter_spent_usd: float = Field(description="what the budget counter holds (enforcement); equals the ledger")
    reserved_usd: float
    remaining_usd: float
    exhausted: bool
    reservations: Reservations
    on_exhausted: ExhaustionPolicy | None = Field(
        description="an agent budget: that agent's policy; the organization's budget: each agent's own (see the list)"
    )


class BudgetList(BaseModel):
    """The organization's budget and its agents' budgets, and every agent's exhaustion policy."""

    data: list[Budget]
    exhaustion_policies: list[ExhaustionPolicy] = Field(
        description="per agent, from its config (on_budget_exhausted): what a turn does when a budget runs out"
    )


class UsageFilters(BaseModel):
    """The exact filters of a usage report: calls made in [from, to)."""

    organization_id: uuid.UUID
    from_: datetime = Field(serialization_alias="from")
    to: datetime
    agent_id: uuid.UUID | None = None


class UsageRow(BaseModel):
    """Calls, tokens and cost of one model behind one alias."""

    model: str | None
    alias: str | None
    calls: int
    errors: int
    fallback_calls: int
    tokens_in: int
    tokens_out: int
    cost_usd: float


class Usage(BaseModel):
    """LLM usage by model and alias, and the totals (the ledger's sums)."""

    filters: UsageFilters
    totals: UsageRow
    data: list[UsageRow]
