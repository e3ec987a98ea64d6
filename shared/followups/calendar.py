"""When a follow-up may go out: the lead's time zone, quiet hours and business days. Pure.

The lead's zone comes from the phone number where phonenumbers knows one (its zone; of several,
the organization's when it is one of them, else the first), else the organization's
(``organizations.settings.timezone``), else UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as phone_timezones

from shared.agents.config import FollowUp

_UNKNOWN = "Etc/Unknown"
_HORIZON_DAYS = 15  # two weeks of candidates always contain an allowed moment (one business day at least)


@lru_cache(maxsize=4096)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def lead_time_zone(phone: str | None, organization_zone: str | None) -> str:
    """The IANA zone to judge quiet hours in: the phone number's, else ``organization_zone``, else UTC."""
    if phone:
        try:
            number = phonenumbers.parse(phone, None)
        except phonenumbers.NumberParseException:
            number = None
        if number is not None:
            zones = [z for z in phone_timezones.time_zones_for_number(number) if z != _UNKNOWN]
            if organization_zone in zones:
                return organization_zone  # the country spans zones and the organization is in one of them
            if zones and _zone(zones[0]) is not None:
                return str(zones[0])
    if organization_zone and _zone(organization_zone) is not None:
        return organization_zone
    return "UTC"


def _clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def allowed(moment: datetime, zone: str, policy: FollowUp) -> bool:
    """True when ``moment`` is on a business day and outside quiet hours, in ``zone``."""
    local = moment.astimezone(_zone(zone) or UTC)
    if local.isoweekday() not in policy.business_days:
        return False
    start, end, now = _clock(policy.quiet_hours.start), _clock(policy.quiet_hours.end), local.time()
    quiet = (now >= start or now < end) if start > end else (start <= now < end)
    return not quiet


def next_allowed(moment: datetime, zone: str, policy: FollowUp) -> datetime:
    """The first allowed moment at or after ``moment``, rounded up to the minute (a cron period's grain)."""
    moment = _ceil_minute(moment)
    if allowed(moment, zone, policy):
        return moment
    tz = _zone(zone) or UTC
    local = moment.astimezone(tz)
    end = _clock(policy.quiet_hours.end)
    for day in range(_HORIZON_DAYS):
        date = (local + timedelta(days=day)).date()
        for at in (time(0, 0), end):
            candidate = datetime.combine(date, at, tzinfo=tz).astimezone(UTC)
            if candidate >= moment and allowed(candidate, zone, policy):
                return candidate
    return moment  # unreachable with at least one business day; never blocks forever


def _ceil_minute(moment: datetime) -> datetime:
    floor = moment.replace(second=0, microsecond=0)
    return floor if floor == moment else floor + timedelta(minutes=1)
