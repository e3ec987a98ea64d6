"""What to do with one due follow-up, decided from what the worker read under the conversation's row lock. Pure.

The stop rules, in order: the conversation closed, a human took over, the lead opted out,
converted or was lost, the lead replied since the silence began, an operator paused or
cancelled, the policy no longer has this step, the organization's budget is used up, the lead
already got ``max_per_period`` follow-ups. Then quiet hours and business days (the step waits),
then the channel: on WhatsApp outside the 24-hour window only the agent's approved template
may go, and without one the step is skipped and the skip recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from shared.agents.config import FollowUp, FollowUpStep
from shared.followups.calendar import allowed, next_allowed

StopReason = Literal[
    "closed",
    "taken_over",
    "opted_out",
    "converted",
    "lost",
    "lead_replied",
    "paused",
    "policy_changed",
    "budget_exhausted",
    "max_per_period",
    "cancelled",
]
SkipReason = Literal["window_closed_no_template"]
STOP_REASONS: tuple[str, ...] = StopReason.__args__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Snapshot:
    """A due follow-up and the state of its conversation, read under the row lock."""

    step: int
    anchor_at: datetime
    zone: str
    policy: FollowUp
    channel: str
    conversation_status: str
    paused: bool
    consent: bool
    stage: str
    last_lead_at: datetime | None
    window_open: bool
    has_template: bool
    budget_left: bool
    sent_in_period: int


@dataclass(frozen=True)
class Send:
    """Send the step: ``text`` (free text), ``template`` (WhatsApp outside the window) or ``model`` (a turn)."""

    kind: Literal["text", "template", "model"]
    step: FollowUpStep


@dataclass(frozen=True)
class Skip:
    reason: SkipReason


@dataclass(frozen=True)
class Stop:
    reason: StopReason


@dataclass(frozen=True)
class Wait:
    until: datetime


Decision = Send | Skip | Stop | Wait


def decide(snap: Snapshot, now: datetime) -> Decision:
    """The one decision for a claimed follow-up at ``now``."""
    stop = stop_reason(snap)
    if stop is not None:
        return Stop(stop)
    if not allowed(now, snap.zone, snap.policy):
        return Wait(next_allowed(now, snap.zone, snap.policy))
    step = snap.policy.sequence()[snap.step]
    if snap.channel == "whatsapp" and not snap.window_open:
        return Send("template", step) if snap.has_template else Skip("window_closed_no_template")
    return Send(step.kind, step)


def stop_reason(snap: Snapshot) -> StopReason | None:
    """Why the sequence must stop now, or None."""
    if snap.conversation_status == "closed":
        return "closed"
    if snap.conversation_status != "bot":
        return "taken_over"
    if not snap.consent:
        return "opted_out"
    if snap.stage in ("converted", "lost"):
        return "converted" if snap.stage == "converted" else "lost"
    if snap.last_lead_at is not None and snap.last_lead_at > snap.anchor_at:
        return "lead_replied"
    if snap.paused:
        return "paused"
    if not snap.policy.enabled or snap.step >= len(snap.policy.sequence()):
        return "policy_changed"
    if not snap.budget_left:
        return "budget_exhausted"
    if snap.sent_in_period >= snap.policy.max_per_period:
        return "max_per_period"
    return None


def due_at(
    policy: FollowUp, step: int, anchor_at: datetime, zone: str, now: datetime, previous_at: datetime | None = None
) -> datetime | None:
    """When step ``step`` of the silence begun at ``anchor_at`` goes out; None past the last step.

    Never before ``now``, and never closer to the previous step (done at ``previous_at``) than the
    sequence spaces them: a step held back by a weekend does not drag the next one along with it.
    """
    sequence = policy.sequence()
    if not policy.enabled or step >= len(sequence):
        return None
    after = sequence[step].after_minutes
    moment = max(anchor_at + timedelta(minutes=after), now)
    if previous_at is not None and step > 0:
        moment = max(moment, previous_at + timedelta(minutes=after - sequence[step - 1].after_minutes))
    return next_allowed(moment, zone, policy)
