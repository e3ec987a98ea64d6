"""The follow-up simulation (bench/follow_up_sim.py) at CI size: every rule exercised, no violation.

10,000 leads run in the bench (``python -m bench.follow_ups``); here 600 (about 2,100 follow-ups, 35 s
on a busy 2-core machine), which still reach every stop rule but an operator's, quiet hours in three
zones, both channels, WhatsApp with and without a template, a model-written step and an organization's
budget running out. ``SIM_LEADS=10000`` runs the full size here too.
"""

from __future__ import annotations

import os

import pytest

from bench.follow_up_sim import VIOLATIONS, simulate
from shared.followups.rules import STOP_REASONS

pytestmark = pytest.mark.integration


def test_a_week_of_follow_ups_breaks_no_rule(app_env: dict[str, str]) -> None:
    # given 600 leads across 3 organizations, 3 zones and both channels, with random replies, opt-outs,
    # takeovers, conversions, losses, closes and one organization's budget running out over 7 simulated days
    # when the cron and the worker run on the simulated clock
    report = simulate(app_env["DATABASE_URL"], leads=int(os.environ.get("SIM_LEADS", "600")), days=7)
    print("\n".join(report.lines()))
    # then no send broke a rule, and every due step went out within one cron period
    assert {name: report.violations[name] for name in VIOLATIONS} == dict.fromkeys(VIOLATIONS, 0), report.examples
    # and every rule was exercised
    assert report.sent["text"] > 0
    assert report.sent["template"] > 0
    assert report.sent["model"] > 0
    assert report.skipped["window_closed_no_template"] > 0
    for reason in STOP_REASONS:
        if reason in ("paused", "cancelled", "policy_changed"):  # an operator's, tested with the API
            continue
        assert report.stopped[reason] > 0, reason
    assert report.on_time_checked == sum(report.sent.values())
