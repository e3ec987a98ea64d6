"""The lead's time zone, quiet hours and business days (shared/followups/calendar.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.agents.config import FollowUp
from shared.followups.calendar import allowed, lead_time_zone, next_allowed

POLICY = FollowUp.model_validate({"enabled": True, "quiet_hours": {"start": "21:00", "end": "08:00"}})


@pytest.mark.parametrize(
    ("phone", "org_zone", "zone"),
    [
        ("+5511987654321", "Europe/Lisbon", "America/Sao_Paulo"),  # the number's zone wins
        ("+12125550123", None, "America/New_York"),
        ("+351912345678", "Europe/Lisbon", "Europe/Lisbon"),  # of the number's zones, the organization's
        (None, "Asia/Tokyo", "Asia/Tokyo"),  # no phone: the organization's
        ("+999123", "Asia/Tokyo", "Asia/Tokyo"),  # a number phonenumbers cannot place
        (None, "Not/AZone", "UTC"),  # neither: UTC
    ],
)
def test_the_lead_zone_comes_from_the_phone_then_the_organization(
    phone: str | None, org_zone: str | None, zone: str
) -> None:
    # given a lead's phone and its organization's zone / when the zone is derived / then it is the expected one
    assert lead_time_zone(phone, org_zone) == zone


def test_quiet_hours_are_judged_in_the_lead_zone() -> None:
    # given 23:30 UTC on a Tuesday, which is 20:30 in São Paulo and 08:30 on Wednesday in Tokyo
    moment = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
    # then it is allowed in both, and quiet in UTC itself
    assert allowed(moment, "America/Sao_Paulo", POLICY)
    assert allowed(moment, "Asia/Tokyo", POLICY)
    assert not allowed(moment, "UTC", POLICY)


def test_a_step_in_quiet_hours_moves_to_their_end() -> None:
    # given 22:10 on a Tuesday in São Paulo / when the next allowed moment is asked
    moment = datetime(2026, 12, 2, 1, 10, tzinfo=UTC)
    # then it is 08:00 the next morning there (11:00 UTC)
    assert next_allowed(moment, "America/Sao_Paulo", POLICY) == datetime(2026, 12, 2, 11, 0, tzinfo=UTC)


def test_a_weekend_moves_to_monday_morning() -> None:
    # given Saturday noon in New York (business days Monday to Friday)
    moment = datetime(2026, 12, 5, 17, 0, tzinfo=UTC)
    # then the step waits for Monday 08:00 there (13:00 UTC)
    assert next_allowed(moment, "America/New_York", POLICY) == datetime(2026, 12, 7, 13, 0, tzinfo=UTC)


def test_an_allowed_moment_is_rounded_up_to_the_minute() -> None:
    # given 10:00:01 on a Wednesday in UTC / then it goes out at 10:01, a cron tick
    moment = datetime(2026, 12, 2, 10, 0, 1, tzinfo=UTC)
    assert next_allowed(moment, "UTC", POLICY) == datetime(2026, 12, 2, 10, 1, tzinfo=UTC)


def test_quiet_hours_inside_one_day() -> None:
    # given a lunch break 12:00-14:00 and every day allowed
    policy = FollowUp.model_validate(
        {"quiet_hours": {"start": "12:00", "end": "14:00"}, "business_days": [1, 2, 3, 4, 5, 6, 7]}
    )
    # then 12:30 waits until 14:00, and 23:00 is allowed
    assert next_allowed(datetime(2026, 12, 6, 12, 30, tzinfo=UTC), "UTC", policy) == datetime(
        2026, 12, 6, 14, 0, tzinfo=UTC
    )
    assert allowed(datetime(2026, 12, 6, 23, 0, tzinfo=UTC), "UTC", policy)
