"""What ``app.begin_turn`` loads for a turn, as typed values."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from shared.leads.fields import CONTACT_FIELDS


@dataclass(frozen=True)
class TurnContext:
    """A conversation ready for a model turn, with its budget reservation."""

    status: str
    organization_id: uuid.UUID
    conversation: dict[str, Any]
    config: dict[str, Any]
    lead: dict[str, Any]
    history: list[dict[str, Any]]
    pending: list[uuid.UUID]
    alias: str | None
    reservation_id: uuid.UUID | None
    reserved_usd: Decimal | None
    budget: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> TurnContext:
        reservation = row.get("reservation_id")
        reserved = row.get("reserved_usd")
        return cls(
            status=row["status"],
            organization_id=uuid.UUID(row["organization_id"]),
            conversation=row["conversation"],
            config=row.get("config") or {},
            lead=row.get("lead") or {},
            history=row.get("history") or [],
            pending=[uuid.UUID(p) for p in row.get("pending") or []],
            alias=row.get("alias"),
            reservation_id=uuid.UUID(reservation) if reservation else None,
            reserved_usd=Decimal(str(reserved)) if reserved is not None else None,
            budget=row.get("budget"),
        )

    @property
    def conversation_id(self) -> uuid.UUID:
        return uuid.UUID(self.conversation["id"])

    @property
    def fields(self) -> list[dict[str, Any]]:
        """The agent's qualification fields (name, type, required, description)."""
        return list(self.config.get("qualification_fields") or [])

    @property
    def language(self) -> str:
        return str(self.config.get("language") or "pt-BR")

    def known(self) -> dict[str, Any]:
        """What is known about the lead: its qualification data plus its contact columns."""
        known = dict(self.lead.get("qualification") or {})
        for name in CONTACT_FIELDS:
            if self.lead.get(name):
                known[name] = self.lead[name]
        return known

    def pending_texts(self) -> list[str]:
        pending = {str(p) for p in self.pending}
        return [m["content"] for m in self.history if m["role"] == "lead" and m["id"] in pending]
