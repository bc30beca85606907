"""Business hours on a fixed clock: open, closed, holiday, time zones, intervals past midnight."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from ivr.flow.hours import ScheduleError, is_open
from ivr.flow.model import Schedule

SEOUL = ZoneInfo("Asia/Seoul")
WEEKDAYS = {day: (("09:00", "16:00"),) for day in ("mon", "tue", "wed", "thu", "fri")}
BRANCH = Schedule(timezone="Asia/Seoul", weekly=WEEKDAYS, holidays=("2026-12-25",))


def seoul(day: str, clock: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=SEOUL)


@pytest.mark.parametrize(("moment", "status"), [
    (seoul("2026-11-23", "09:00"), "open"),      # Monday, opening minute
    (seoul("2026-11-23", "15:59"), "open"),
    (seoul("2026-11-23", "16:00"), "closed"),    # the end is exclusive
    (seoul("2026-11-23", "08:59"), "closed"),
    (seoul("2026-11-22", "10:00"), "closed"),    # Sunday
    (seoul("2026-12-25", "10:00"), "holiday"),   # a Friday, but Christmas
    (seoul("2026-12-25", "23:59"), "holiday"),
])
def test_weekly_hours_and_holidays(moment: datetime, status: str) -> None:
    assert is_open(BRANCH, moment) == status


def test_judged_on_the_schedules_wall_clock_whatever_the_callers_zone() -> None:
    # 00:30 UTC on Monday is 09:30 in Seoul: open, although it is Sunday night in New York.
    utc = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)
    assert is_open(BRANCH, utc) == "open"
    assert is_open(BRANCH, utc.astimezone(ZoneInfo("America/New_York"))) == "open"
    # 15:30 UTC on Christmas Eve is 00:30 on Christmas in Seoul: a holiday there already.
    assert is_open(BRANCH, datetime(2026, 12, 24, 15, 30, tzinfo=UTC)) == "holiday"
    # and 23:59 Seoul on Sunday is 14:59 UTC on Sunday: still closed
    assert is_open(BRANCH, datetime(2026, 11, 22, 14, 59, tzinfo=UTC)) == "closed"
    assert is_open(BRANCH, datetime(2026, 11, 23, 0, 0, tzinfo=timezone(timedelta(hours=9)))) \
        == "closed"  # Monday 00:00 in Seoul


NIGHT = Schedule(timezone="Asia/Seoul", weekly={"fri": (("22:00", "02:00"),),
                                                "sat": (("10:00", "12:00"),)},
                 holidays=("2026-12-25",))


@pytest.mark.parametrize(("moment", "status"), [
    (seoul("2026-11-27", "21:59"), "closed"),   # Friday evening, before
    (seoul("2026-11-27", "22:00"), "open"),
    (seoul("2026-11-27", "23:59"), "open"),
    (seoul("2026-11-28", "00:00"), "open"),     # Saturday: the Friday interval spills over
    (seoul("2026-11-28", "01:59"), "open"),
    (seoul("2026-11-28", "02:00"), "closed"),
    (seoul("2026-11-28", "10:30"), "open"),     # Saturday's own interval
    (seoul("2026-11-29", "01:00"), "closed"),   # Sunday: Saturday's interval does not cross
    (seoul("2026-12-26", "01:00"), "closed"),   # the Christmas shift never began
])
def test_an_interval_past_midnight(moment: datetime, status: str) -> None:
    assert is_open(NIGHT, moment) == status


def test_around_the_clock_and_full_day_names() -> None:
    always = Schedule(timezone="UTC", weekly={"Monday": (("00:00", "24:00"),)})
    assert is_open(always, datetime(2026, 11, 23, 0, 0, tzinfo=UTC)) == "open"
    assert is_open(always, datetime(2026, 11, 23, 23, 59, tzinfo=UTC)) == "open"
    assert is_open(always, datetime(2026, 11, 24, 0, 0, tzinfo=UTC)) == "closed"


@pytest.mark.parametrize("schedule", [
    Schedule(timezone="Mars/Olympus"),
    Schedule(weekly={"mon": (("9", "16:00"),)}),
    Schedule(weekly={"mon": (("09:00", "25:00"),)}),
    Schedule(weekly={"someday": (("09:00", "16:00"),)}),
    Schedule(holidays=("2026-13-01",)),
])
def test_a_broken_schedule_says_what_is_wrong(schedule: Schedule) -> None:
    with pytest.raises(ScheduleError):
        is_open(schedule, datetime(2026, 11, 23, 10, 0, tzinfo=UTC))


def test_a_naive_clock_is_refused() -> None:
    with pytest.raises(ScheduleError, match="aware"):
        is_open(BRANCH, datetime(2026, 11, 23, 10, 0))
