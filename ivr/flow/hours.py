"""Business hours: is a schedule open, closed or on holiday at a given instant?

A schedule is data (model.Schedule): a time zone, weekly opening intervals and holiday dates.
Everything is judged on the wall clock of the schedule's own zone, so a Seoul branch is open
09:00-16:00 Seoul time whatever the server's zone, and daylight-saving changes need no code.

An interval whose end is not after its start ("22:00-02:00") crosses midnight: it opens on its
own day and spills into the next morning. A holiday closes its whole date, including the spill of
the evening before's interval into it, and an interval that starts on a holiday does not spill
into the next day either: the shift never began.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .model import Schedule

Status = Literal["open", "closed", "holiday"]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ScheduleError(ValueError):
    """The schedule cannot be evaluated (unknown time zone, malformed time or date)."""


def parse_time(text: str) -> int:
    """'09:30' -> minutes after midnight; '24:00' is allowed as the end of the day."""
    try:
        hours, minutes = (int(part) for part in text.strip().split(":"))
    except ValueError:
        raise ScheduleError(f"time {text!r} is not HH:MM") from None
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or (hours == 24 and minutes):
        raise ScheduleError(f"time {text!r} is not between 00:00 and 24:00")
    return hours * 60 + minutes


def zone(schedule: Schedule) -> ZoneInfo:
    try:
        return ZoneInfo(schedule.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"unknown time zone {schedule.timezone!r}") from None


def _day_key(name: str) -> str:
    key = name.strip().lower()[:3]
    if key not in DAYS:
        raise ScheduleError(f"unknown day {name!r} (one of {', '.join(DAYS)})")
    return key


def _intervals(schedule: Schedule, day: date) -> list[tuple[int, int]]:
    """Opening intervals (start, end) in minutes for the weekday of `day`."""
    wanted = DAYS[day.weekday()]
    out: list[tuple[int, int]] = []
    for name, intervals in schedule.weekly.items():
        if _day_key(name) == wanted:
            out += [(parse_time(start), parse_time(end)) for start, end in intervals]
    return out


def _holidays(schedule: Schedule) -> set[date]:
    try:
        return {date.fromisoformat(text.strip()) for text in schedule.holidays}
    except ValueError as exc:
        raise ScheduleError(f"holiday date: {exc}") from None


def is_open(schedule: Schedule, now: datetime) -> Status:
    """The schedule's status at `now` (an aware datetime, any zone)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ScheduleError("the clock must give an aware datetime")
    local = now.astimezone(zone(schedule))
    today = local.date()
    holidays = _holidays(schedule)
    if today in holidays:
        return "holiday"
    minute = local.hour * 60 + local.minute
    for start, end in _intervals(schedule, today):
        crosses = end <= start
        if (start <= minute < end) or (crosses and minute >= start):
            return "open"
    yesterday = today - timedelta(days=1)
    if yesterday not in holidays:
        for start, end in _intervals(schedule, yesterday):
            if end <= start and minute < end:
                return "open"
    return "closed"

