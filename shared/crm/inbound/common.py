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
from shared.db import service_write
from shared.observability.context import bind_organization

# The integration, its credentials from the vault, and which of the webhook's deals it created, in one round trip.
_BY_ID: LiteralString = """
    select i.id, i.organization_id, i.enabled, i.config, i.external_id, s.secret,
           array(select k.deal_id from public.crm_links k
                 where k.integration_id = i.id and k.deal_id = any (%(deals)s::text[])) as linked_deals
    from public.integrations i left join lateral app.read_secrets(array[i.secret_id]) s on true
    where i.id = %(id)s and i.kind = %(kind)s::text
"""
_BY_EXTERNAL_ID: LiteralString = """
    select i.id, i.organization_id, i.enabled, i.config, i.external_id, s.secret,
           array(select k.deal_id from public.crm_links k
                 where k.integration_id = i.id and k.deal_id = any (%(deals)s::text[])) as linked_deals
    from public.integrations i left join lateral app.read_secrets(array[i.secret_id]) s on true
    where i.kind = %(kind)s::text and i.external_id = any (%(external_ids)s::text[])
"""
# Every outcome of one integration in one statement (one round trip).
_RECORD: LiteralString = """
    select app.record_crm_outcome(%(integration_id)s, o.outcome, o.deal_id, o.email, o.external_id, o.value,
                                  o.currency, o.occurred_at, o.data) as result
    from jsonb_to_recordset(%(outcomes)s::jsonb) as o(
        outcome text, deal_id text, email text, external_id text, value numeric, currency text,
        occurred_at timestamptz, data jsonb)
"""


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
    linked_deals: frozenset[str] = frozenset()  # of the deals asked about, those this integration created


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
    found = await _load(_BY_ID, {"id": integration_id, "kind": kind, "deals": []})
    return found[0] if found else None


async def load_by_external_ids(kind: str, external_ids: Iterable[str], deal_ids: Iterable[str] = ()) -> list[Connected]:
    """The integrations of ``kind`` whose external id is among ``external_ids``, each with which of
    ``deal_ids`` it created for one of our leads."""
    params = {"kind": kind, "external_ids": sorted(set(external_ids)), "deals": sorted(set(deal_ids))}
    return await _load(_BY_EXTERNAL_ID, params)


async def record(integration: Connected, outcomes: Sequence[DealOutcome]) -> int:
    """Apply ``outcomes`` in one transaction and one round trip; how many converted or lost a lead."""
    if not outcomes or not integration.enabled:
        return 0
    bind_organization(integration.organization_id)
    items = [
        {
            "outcome": o.outcome,
            "deal_id": o.deal_id,
            "email": o.email,
            "external_id": o.external_id,
            "value": str(o.value) if o.value is not None else None,
            "currency": o.currency,
            "occurred_at": o.occurred_at.isoformat() if o.occurred_at else None,
            "data": o.data,
        }
        for o in outcomes
    ]
    rows = await service_write((_RECORD, {"integration_id": integration.id, "outcomes": json.dumps(items)}))
    return sum(bool(row["result"] and row["result"].get("status") in ("converted", "lost")) for row in rows)


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


async def _load(sql: LiteralString, params: dict[str, Any]) -> list[Connected]:
    return [
        Connected(
            id=row["id"],
            organization_id=row["organization_id"],
            enabled=row["enabled"],
            external_id=row["external_id"],
            config=row["config"],
            credentials=json.loads(row["secret"]) if row["secret"] else {},
            linked_deals=frozenset(row["linked_deals"] or ()),
        )
        for row in await service_write((sql, params))
    ]
