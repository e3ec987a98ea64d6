"""What a CRM adapter is handed for one event, and what it hands back.

Events map to steps of a deal: ``lead.qualified`` → qualified, ``handoff.requested`` → handoff,
``conversion.created`` → converted. Steps only go forward, so a late or retried event never moves
a deal back; the contact is still refreshed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, Literal

Step = Literal["qualified", "handoff", "converted", "lost"]
STEPS: Final[dict[str, Step]] = {
    "lead.qualified": "qualified",
    "handoff.requested": "handoff",
    "conversion.created": "converted",
}
SYNCED_EVENTS: Final = tuple(STEPS)
# How far a deal has moved: the one ordering, also the rows of ``app.crm_step_ranks`` (a test keeps them equal).
STEP_RANK: Final[dict[str, int]] = {"qualified": 1, "handoff": 2, "converted": 3, "lost": 3}


class NotSynced(Exception):
    """An adapter has nothing it can send for this event (say, RD Station and a lead without e-mail)."""


@dataclass(frozen=True)
class CrmLead:
    """The lead as a CRM sees it."""

    id: uuid.UUID
    name: str | None
    email: str | None
    phone: str | None

    @property
    def display_name(self) -> str:
        return self.name or self.email or self.phone or f"Lead {self.id.hex[:8]}"

    def name_parts(self) -> tuple[str | None, str | None]:
        """First name and last name, split at the first space."""
        if not self.name:
            return None, None
        first, _, last = self.name.strip().partition(" ")
        return first, last.strip() or None


@dataclass(frozen=True)
class SyncJob:
    """One event for one integration, with everything needed to push it (credentials included)."""

    event_id: uuid.UUID
    event_type: str
    step: Step
    lead: CrmLead
    config: dict[str, Any]
    credentials: dict[str, str]
    contact_id: str | None = None
    deal_id: str | None = None
    synced_step: Step | None = None
    value: Decimal | None = None
    currency: str | None = None

    @property
    def advances(self) -> bool:
        """True when this event moves the deal forward from what was synced before."""
        return STEP_RANK.get(self.step or "", 0) > STEP_RANK.get(self.synced_step or "", 0)

    def __repr__(self) -> str:
        # The generated repr would print the credentials.
        return f"SyncJob(event_id={self.event_id}, event_type={self.event_type!r}, lead_id={self.lead.id})"


@dataclass(frozen=True)
class SyncResult:
    """The CRM's ids for the lead after a push; None keeps what was known."""

    contact_id: str | None = None
    deal_id: str | None = None
