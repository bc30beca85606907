"""When a callback may be dialled: the customer's time zone, the calling window, back-off after
a failed attempt, and the expiry. Pure functions of the policy and the clock, so every rule is
tested without a phone.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping

from ..acd.config import CallbackPolicy

__all__ = ["clock_in_window", "first_attempt_at", "in_window", "next_window_start", "retry_at",
           "scheduled_for", "timezone_for", "zone_by_prefix"]


def zone_by_prefix(number: str, timezones: Mapping[str, str], default: str) -> str:
    """The zone of the longest prefix in `timezones` that the number starts with (with or
    without its +), else `default`."""
    digits = number.lstrip("+")
    best = ""
    for prefix in timezones:
        bare = prefix.lstrip("+")
        if (number.startswith(prefix) or digits.startswith(bare)) and len(bare) > len(best):
            best = bare
    return next((z for p, z in timezones.items() if p.lstrip("+") == best),
                default) if best else default


def timezone_for(number: str, policy: CallbackPolicy) -> str:
    """The longest prefix of `policy.timezones` that the number starts with, else the default."""
    return zone_by_prefix(number, policy.timezones, policy.timezone)


def _clock(text: str) -> dt.time:
    hour, minute = text.split(":")
    return dt.time(int(hour), int(minute))


def in_window(moment: dt.datetime, policy: CallbackPolicy, zone: str) -> bool:
    """Is `moment` inside the calling window, in the customer's local time (wraps midnight)?"""
    return clock_in_window(moment.astimezone(zoneinfo.ZoneInfo(zone)).time(), policy.window)


def clock_in_window(local: dt.time, window: tuple[str, str]) -> bool:
    """Is a local clock time inside ("HH:MM", "HH:MM")? Equal ends: all day; it may wrap."""
    start, end = (_clock(t) for t in window)
    if start == end:
        return True
    if start < end:
        return start <= local < end
    return local >= start or local < end


def next_window_start(moment: dt.datetime, policy: CallbackPolicy, zone: str) -> dt.datetime:
    """`moment` itself if it is inside the window, else when the window next opens (UTC)."""
    if in_window(moment, policy, zone):
        return moment
    tz = zoneinfo.ZoneInfo(zone)
    local = moment.astimezone(tz)
    start = _clock(policy.window[0])
    opening = dt.datetime.combine(local.date(), start, tzinfo=tz)
    if opening <= local:
        opening = dt.datetime.combine(local.date() + dt.timedelta(days=1), start, tzinfo=tz)
    return opening.astimezone(dt.UTC)


def scheduled_for(hhmm: str, now: dt.datetime, zone: str) -> dt.datetime | None:
    """'1500' keyed by a caller: the next 15:00 in their time zone (today, or tomorrow if it
    has passed); None if it is no time of day."""
    if len(hhmm) != 4 or not hhmm.isdigit():
        return None
    hour, minute = int(hhmm[:2]), int(hhmm[2:])
    if hour > 23 or minute > 59:
        return None
    tz = zoneinfo.ZoneInfo(zone)
    local = now.astimezone(tz)
    when = dt.datetime.combine(local.date(), dt.time(hour, minute), tzinfo=tz)
    if when <= local:
        when = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(hour, minute),
                                   tzinfo=tz)
    return when.astimezone(dt.UTC)


def first_attempt_at(now: dt.datetime, not_before: dt.datetime | None, policy: CallbackPolicy,
                     zone: str) -> dt.datetime:
    return next_window_start(max(now, not_before or now), policy, zone)


def retry_at(failed_attempts: int, ended: dt.datetime, policy: CallbackPolicy,
             zone: str) -> dt.datetime:
    """After the n-th failed attempt: the n-th back-off delay (the last one repeats), moved
    into the calling window."""
    delays = policy.retry or (60.0,)
    delay = delays[min(failed_attempts, len(delays)) - 1]
    return next_window_start(ended + dt.timedelta(seconds=delay), policy, zone)
