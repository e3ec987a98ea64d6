"""The stop rules and the send decision for a due follow-up (shared/followups/rules.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shared.agents.config import FollowUp
from shared.followups.rules import Send, Skip, Snapshot, Stop, Wait, decide, due_at

POLICY = FollowUp.model_validate(
    {
        "enabled": True,
        "steps": [
            {"after_minutes": 60, "kind": "text", "text": "Ainda por aí?"},
            {"after_minutes": 1440, "kind": "model", "instruction": "Lembre o lead da visita."},
        ],
        "max_per_period": 2,
    }
)
NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)  # a Wednesday, 15:00 UTC
SNAP = Snapshot(
    step=0,
    anchor_at=NOW - timedelta(hours=2),
    zone="UTC",
    policy=POLICY,
    channel="web",
    conversation_status="bot",
    paused=False,
    consent=True,
    stage="engaged",
    last_lead_at=NOW - timedelta(hours=2),
    window_open=True,
    has_template=False,
    budget_left=True,
    sent_in_period=0,
)


def test_a_due_step_inside_the_rules_is_sent_as_configured() -> None:
    # given a silent lead on web chat / when step 0 is due / then its fixed text goes out
    assert decide(SNAP, NOW) == Send("text", POLICY.steps[0])
    # and step 1 is a model-written nudge
    assert decide(replace(SNAP, step=1), NOW) == Send("model", POLICY.steps[1])


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"conversation_status": "closed"}, "closed"),
        ({"conversation_status": "human"}, "taken_over"),
        ({"consent": False}, "opted_out"),
        ({"stage": "converted"}, "converted"),
        ({"stage": "lost"}, "lost"),
        ({"last_lead_at": NOW - timedelta(minutes=5)}, "lead_replied"),
        ({"paused": True}, "paused"),
        ({"step": 2}, "policy_changed"),
        ({"budget_left": False}, "budget_exhausted"),
        ({"sent_in_period": 2}, "max_per_period"),
    ],
)
def test_every_stop_rule_stops_with_its_reason(change: dict[str, object], reason: str) -> None:
    # given a due step whose conversation meets one stop rule / then it stops with that rule's reason
    assert decide(replace(SNAP, **change), NOW) == Stop(reason)  # type: ignore[arg-type]


def test_quiet_hours_make_the_step_wait_for_their_end() -> None:
    # given 22:00 UTC / then the step waits until 08:00 the next morning
    late = datetime(2026, 12, 2, 22, 0, tzinfo=UTC)
    assert decide(SNAP, late) == Wait(datetime(2026, 12, 3, 8, 0, tzinfo=UTC))


def test_whatsapp_outside_the_window_uses_the_template_or_skips() -> None:
    # given a WhatsApp conversation whose 24-hour window closed
    closed = replace(SNAP, channel="whatsapp", window_open=False)
    # then with a template it goes as the template, without one it is skipped with the reason
    assert decide(replace(closed, has_template=True), NOW) == Send("template", POLICY.steps[0])
    assert decide(closed, NOW) == Skip("window_closed_no_template")


def test_due_times_count_from_the_silence_and_never_fall_in_quiet_hours() -> None:
    # given a silence begun Wednesday 20:30 UTC / then step 0 (after 1 h) waits for 08:00 Thursday
    anchor = datetime(2026, 12, 2, 20, 30, tzinfo=UTC)
    assert due_at(POLICY, 0, anchor, "UTC", anchor) == datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    # and step 1 (after 24 h) is due Thursday 20:30; past the last step nothing is due
    assert due_at(POLICY, 1, anchor, "UTC", anchor) == datetime(2026, 12, 3, 20, 30, tzinfo=UTC)
    assert due_at(POLICY, 2, anchor, "UTC", anchor) is None
