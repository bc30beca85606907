"""When a callback may be dialled: the customer's time zone, the calling window, back-off after
a failed attempt, and the expiry. Pure functions of the policy and the clock, so every rule is
tested without a phone.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from ..acd.config import CallbackPolicy

__all__ = ["first_attempt_at", "in_window", "next_window_start", "retry_at", "scheduled_for",
           "timezone_for"]


def timezone_for(number: str, policy: CallbackPolicy) -> str:
    """The longest prefix of `policy.timezones` that the number starts with, else the default."""
    digits = number.lstrip("+")
    best = ""
    for prefix in policy.timezones:
        bare = prefix.lstrip("+")
        if (number.startswith(prefix) or digits.startswith(bare)) and len(bare) > len(best):
            best = bare
    return next((z for p, z in policy.timezones.items() if p.lstrip("+") == best),
                policy.timezone) if best else policy.timezone


def _clock(text: str) -> dt.time:
    hour, minute = text.split(":")
    return dt.time(int(hour), int(minute))


def in_window(moment: dt.datetime, policy: CallbackPolicy, zone: str) -> bool:
    """Is `moment` inside the calling window, in the customer's local time (wraps midnight)?"""
    local = moment.astimezone(zoneinfo.ZoneInfo(zone)).time()
    start, end = (_clock(t) for t in policy.window)
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
