"""Request and response models for budgets and LLM usage."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Usd = Decimal


class SetBudget(BaseModel):
    """Body of ``PUT /organizations/{organization_id}/budgets``: every field is replaced (spend is kept)."""

    model_config = ConfigDict(extra="forbid")

    agent_id: uuid.UUID | None = Field(default=None, description="null: the organization's budget")
    monthly_limit_usd: Usd = Field(ge=0, max_digits=14, decimal_places=6)
    per_conversation_limit_usd: Usd | None = Field(
        default=None, ge=0, max_digits=14, decimal_places=6, description="the organization's budget only"
    )
    alert_threshold: Usd = Field(default=Decimal("0.8"), gt=0, le=1, max_digits=4, decimal_places=3)


class Reservations(BaseModel):
    """Reservations still open on a budget: a stuck one shows here (expired ones are released by a cron)."""

    count: int
    amount_usd: float
    oldest_at: datetime | None
    expired: int


class Budget(BaseModel):
    """A budget with its current period's spend (from the ledger) and what is still reserved."""

    id: uuid.UUID
    organization_id: uuid.UUID
    agent_id: uuid.UUID | None
    period: Literal["month"] = "month"
    period_start: date
    period_end: date
    monthly_limit_usd: float
    per_conversation_limit_usd: float | None
    alert_threshold: float
    spent_usd: float = Field(description="sum of llm_usage.cost_usd in the period (the ledger)")
    counter_spent_usd: float = Field(description="what the budget counter holds (enforcement); equals the ledger")
    reserved_usd: float
    remaining_usd: float
    alert_reached: bool
    exhausted: bool
    reservations: Reservations


class BudgetList(BaseModel):
    """The organization's budget and its agents' budgets."""

    data: list[Budget]


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
