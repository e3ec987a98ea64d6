"""What the dispatcher and the delivery worker agree on: jobs, outcomes, and the Deliverer protocol.

A subscriber kind (``webhook`` now; ``hubspot``, ``pipedrive``, ``rdstation`` later) plugs in by
implementing ``Deliverer`` and adding itself to ``shared.subscribers``: the dispatcher asks
each deliverer which of its subscribers want a batch of events, and the worker hands it each job.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from shared.db import Session
from shared.events.retry import retry_in

MESSAGE_TYPE = "event_delivery"


@dataclass(frozen=True)
class OutboxEvent:
    """An outbox row the dispatcher claimed."""

    id: uuid.UUID
    organization_id: uuid.UUID
    type: str
    created_at: datetime


@dataclass(frozen=True)
class DeliveryJob:
    """Deliver event ``event_id`` to one subscriber; ``attempt`` counts SQS receives, from 1."""

    event_id: uuid.UUID
    kind: str
    subscriber_id: uuid.UUID
    attempt: int = 1

    @property
    def retry_in(self) -> int | None:
        """Seconds until the next attempt should this one fail; None on the last attempt."""
        return retry_in(self.attempt)

    def to_message(self) -> str:
        """The SQS message body; the attempt is not part of it (SQS counts receives)."""
        body = {"type": MESSAGE_TYPE, "event_id": str(self.event_id), "kind": self.kind}
        return json.dumps({**body, "subscriber_id": str(self.subscriber_id)}, separators=(",", ":"))

    @classmethod
    def from_message(cls, body: str, receive_count: int) -> DeliveryJob:
        """Parse a message body; ValueError when it is not a delivery job."""
        data = json.loads(body)
        if not isinstance(data, dict) or data.get("type") != MESSAGE_TYPE:
            raise ValueError("not an event delivery message")
        return cls(
            event_id=uuid.UUID(str(data["event_id"])),
            kind=str(data["kind"]),
            subscriber_id=uuid.UUID(str(data["subscriber_id"])),
            attempt=max(receive_count, 1),
        )


@dataclass(frozen=True)
class Outcome:
    """How one attempt ended: ``failed`` is retried, the others are final."""

    status: Literal["succeeded", "failed", "skipped"]
    detail: str = ""


class Deliverer(Protocol):
    """One kind of subscriber: who subscribes to which events, and how to deliver to them."""

    kind: str

    async def fan_out(self, db: Session, events: Sequence[OutboxEvent]) -> list[DeliveryJob]:
        """The jobs for ``events``: one per (event, subscriber of this kind that wants it)."""
        ...

    async def deliver(self, job: DeliveryJob) -> Outcome:
        """Make one attempt; return ``failed`` (not raise) when the subscriber refused or was unreachable."""
        ...
