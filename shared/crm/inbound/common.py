"""What every CRM webhook shares: finding the integration, and recording won or lost deals.

Recording goes through ``app.record_crm_outcome`` in one transaction: it finds the lead by the
deal's link (or by e-mail), attributes a won deal to the agent version that qualified the lead and
is idempotent, so a redelivered webhook changes nothing.
"""

from __future__ import annotations

import hmac
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, LiteralString

from pydantic import BaseModel

from shared import json_body
from shared.db import service_session
from shared.observability.context import bind_organization
from shared.secrets_store import read_secrets

_BY_ID: LiteralString = """
    select i.id, i.organization_id, i.enabled, i.config, i.secret_id, i.external_id from public.integrations i
    where i.id = %s and i.kind = %s::text
"""
_BY_EXTERNAL_ID: LiteralString = """
    select i.id, i.organization_id, i.enabled, i.config, i.secret_id, i.external_id from public.integrations i
    where i.kind = %s::text and i.external_id = any (%s)
"""
_RECORD: LiteralString = "select app.record_crm_outcome(%s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb) as result"


class Receipt(BaseModel):
    """What a CRM webhook answers: how many events came, and how many changed a lead."""

    received: int
    recorded: int


@dataclass(frozen=True)
class Connected:
    """An integration a webhook addressed, with its credentials (never logged)."""

    id: uuid.UUID
    organization_id: uuid.UUID
    enabled: bool
    external_id: str | None
    config: dict[str, Any]
    credentials: dict[str, str] = field(repr=False)


@dataclass(frozen=True)
class DealOutcome:
    """A deal the CRM marked won or lost; ``external_id`` makes its conversion once-only."""

    outcome: Literal["won", "lost"]
    external_id: str
    deal_id: str | None = None
    email: str | None = None
    value: Decimal | None = None
    currency: str | None = None
    occurred_at: datetime | None = None
    data: dict[str, Any] = field(default_factory=dict)


async def load_one(kind: str, integration_id: uuid.UUID) -> Connected | None:
    """The integration of ``kind`` with this id, or None."""
    found = await _load(_BY_ID, (integration_id, kind))
    return found[0] if found else None


async def load_by_external_ids(kind: str, external_ids: Iterable[str]) -> list[Connected]:
    """The integrations of ``kind`` whose external id is among ``external_ids``."""
    return await _load(_BY_EXTERNAL_ID, (kind, sorted(set(external_ids))))


async def linked_deals(integration_id: uuid.UUID, deal_ids: Sequence[str]) -> set[str]:
    """Which of ``deal_ids`` are deals this integration created for one of our leads."""
    async with service_session() as db:
        rows = await db.all(
            "select k.deal_id from public.crm_links k where k.integration_id = %s and k.deal_id = any (%s)",
            (integration_id, list(deal_ids)),
        )
    return {str(row["deal_id"]) for row in rows}


async def record(integration: Connected, outcomes: Sequence[DealOutcome]) -> int:
    """Apply ``outcomes`` in one transaction; how many converted or lost a lead."""
    if not outcomes or not integration.enabled:
        return 0
    bind_organization(integration.organization_id)
    recorded = 0
    async with service_session() as db:
        for o in outcomes:
            params = (integration.id, o.outcome, o.deal_id, o.email, o.external_id, o.value, o.currency)
            row = await db.one(_RECORD, (*params, o.occurred_at, json.dumps(o.data)))
            recorded += bool(row and row["result"].get("status") in ("converted", "lost"))
    return recorded


def same_secret(presented: str | None, expected: str | None) -> bool:
    """Constant-time comparison of a presented credential with the stored one."""
    matches = hmac.compare_digest((presented or "").encode(), (expected or "").encode())
    return matches and bool(presented) and bool(expected)


def parse_json(body: bytes) -> Any:
    """The body as JSON within the limits of ``shared.json_body``, or 400."""
    return json_body.parse(body)


def amount(value: Any) -> Decimal | None:
    """A non-negative amount from a CRM field ("1500.00", 1500, "1.500,00" is not one), or None."""
    try:
        number = Decimal(str(value).strip()) if value not in (None, "") else None
    except InvalidOperation:
        return None
    return number if number is not None and number.is_finite() and number >= 0 else None


async def _load(sql: LiteralString, params: tuple[Any, ...]) -> list[Connected]:
    async with service_session() as db:
        rows = await db.all(sql, params)
        secrets = await read_secrets(db, [row["secret_id"] for row in rows if row["secret_id"]])
    return [
        Connected(
            id=row["id"],
            organization_id=row["organization_id"],
            enabled=row["enabled"],
            external_id=row["external_id"],
            config=row["config"],
            credentials=json.loads(secrets[row["secret_id"]]) if row["secret_id"] in secrets else {},
        )
        for row in rows
    ]
