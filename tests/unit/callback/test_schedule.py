"""When a callback may be dialled (services/callback/schedule.py): the customer's time zone by
number prefix, the calling window in that zone, the next opening, a time of day keyed by the
caller, and the back-off after a failed attempt."""

from __future__ import annotations

import datetime as dt

import pytest

from ivr.services.acd.config import CallbackPolicy
from ivr.services.callback.schedule import (
    first_attempt_at,
    in_window,
    next_window_start,
    retry_at,
    scheduled_for,
    timezone_for,
)

SEOUL, NEW_YORK = "Asia/Seoul", "America/New_York"
"""Seoul: UTC+9 all year (no DST), so local times below are exact."""

POLICY = CallbackPolicy(timezone="Europe/Berlin", timezones={
    "+1": NEW_YORK, "1808": "Pacific/Honolulu", "+82": SEOUL, "44": "Europe/London"})
DAY = CallbackPolicy(window=("09:00", "20:00"))
NIGHT = CallbackPolicy(window=("22:00", "06:00"))
ALL_DAY = CallbackPolicy(window=("00:00", "00:00"))


def utc(day: int, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, second, tzinfo=dt.UTC)


def kst(day: int, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    """Seoul wall-clock time as UTC (Seoul is always UTC+9)."""
    return utc(day, hour, minute, second) - dt.timedelta(hours=9)


# -- timezone_for ----------------------------------------------------------------------------


@pytest.mark.parametrize(("number", "zone"), [
    ("+12125551234", NEW_YORK),
    ("12125551234", NEW_YORK),  # the number without +, the prefix with it
    ("+18085551234", "Pacific/Honolulu"),  # the longest prefix wins over +1
    ("18085551234", "Pacific/Honolulu"),
    ("+821012345678", SEOUL),
    ("821012345678", SEOUL),
    ("+442071234567", "Europe/London"),  # the number with +, the prefix without it
    ("442071234567", "Europe/London"),
    ("+33123456789", "Europe/Berlin"),  # no prefix matches: the default
    ("01012345678", "Europe/Berlin"),
])
def test_timezone_for(number: str, zone: str) -> None:
    assert timezone_for(number, POLICY) == zone


def test_timezone_for_without_prefixes_is_the_default() -> None:
    assert timezone_for("+12125551234", CallbackPolicy()) == SEOUL
    assert timezone_for("+12125551234", CallbackPolicy(timezone=NEW_YORK)) == NEW_YORK


def test_timezone_for_does_not_match_a_prefix_inside_the_number() -> None:
    policy = CallbackPolicy(timezone="UTC", timezones={"44": "Europe/London"})
    assert timezone_for("+14415551234", policy) == "UTC"


# -- in_window -------------------------------------------------------------------------------


@pytest.mark.parametrize(("moment", "inside"), [
    (kst(23, 8, 59, 59), False),
    (kst(23, 9, 0), True),  # the opening is inside
    (kst(23, 13, 30), True),
    (kst(23, 19, 59, 59), True),
    (kst(23, 20, 0), False),  # the closing is not
    (kst(23, 23, 0), False),
])
def test_in_window_normal(moment: dt.datetime, inside: bool) -> None:
    assert in_window(moment, DAY, SEOUL) is inside


@pytest.mark.parametrize(("moment", "inside"), [
    (kst(23, 21, 59), False),
    (kst(23, 22, 0), True),
    (kst(23, 23, 59), True),
    (kst(24, 0, 0), True),
    (kst(24, 5, 59), True),
    (kst(24, 6, 0), False),
    (kst(24, 12, 0), False),
])
def test_in_window_wrapping_midnight(moment: dt.datetime, inside: bool) -> None:
    assert in_window(moment, NIGHT, SEOUL) is inside


@pytest.mark.parametrize("hour", [0, 3, 9, 12, 20, 23])
def test_in_window_all_day(hour: int) -> None:
    assert in_window(kst(23, hour, 30), ALL_DAY, SEOUL)
    assert in_window(kst(23, hour, 30), CallbackPolicy(window=("09:00", "09:00")), SEOUL)


def test_in_window_is_the_customers_local_time() -> None:
    moment = utc(23, 14, 0)  # 23:00 in Seoul, 09:00 in New York (EST, UTC-5)
    assert not in_window(moment, DAY, SEOUL)
    assert in_window(moment, DAY, NEW_YORK)
    later = utc(24, 1, 0)  # 10:00 in Seoul, 20:00 in New York
    assert in_window(later, DAY, SEOUL)
    assert not in_window(later, DAY, NEW_YORK)


# -- next_window_start -----------------------------------------------------------------------


def test_next_window_start_inside_is_the_same_instant() -> None:
    moment = kst(23, 15, 17, 3)
    assert next_window_start(moment, DAY, SEOUL) == moment
    assert next_window_start(moment, ALL_DAY, SEOUL) == moment


def test_next_window_start_before_opening_is_todays_opening() -> None:
    opens = next_window_start(kst(23, 7, 12), DAY, SEOUL)
    assert opens == kst(23, 9, 0) == utc(23, 0, 0)
    assert opens.tzinfo == dt.UTC


def test_next_window_start_after_closing_is_tomorrows_opening() -> None:
    assert next_window_start(kst(23, 20, 0), DAY, SEOUL) == kst(24, 9, 0)
    assert next_window_start(kst(23, 23, 59), DAY, SEOUL) == kst(24, 9, 0)


def test_next_window_start_of_a_window_wrapping_midnight() -> None:
    assert next_window_start(kst(23, 10, 0), NIGHT, SEOUL) == kst(23, 22, 0)
    assert next_window_start(kst(24, 2, 0), NIGHT, SEOUL) == kst(24, 2, 0)


def test_next_window_start_in_new_york() -> None:
    # 23:00 in Seoul is 09:00 in New York: already open there, not in Seoul.
    moment = utc(23, 14, 0)
    assert next_window_start(moment, DAY, NEW_YORK) == moment
    assert next_window_start(moment, DAY, SEOUL) == kst(24, 9, 0)
    # 07:00 EST: it opens at 09:00 EST, 14:00 UTC.
    assert next_window_start(utc(23, 12, 0), DAY, NEW_YORK) == utc(23, 14, 0)


def test_first_attempt_at() -> None:
    now = kst(23, 10, 0)
    assert first_attempt_at(now, None, DAY, SEOUL) == now
    assert first_attempt_at(now, kst(23, 15, 0), DAY, SEOUL) == kst(23, 15, 0)
    assert first_attempt_at(now, kst(23, 8, 0), DAY, SEOUL) == now, "a past time is now"
    assert first_attempt_at(now, kst(23, 21, 0), DAY, SEOUL) == kst(24, 9, 0)


# -- scheduled_for ---------------------------------------------------------------------------


def test_scheduled_for_later_today() -> None:
    now = kst(23, 10, 0)
    assert scheduled_for("1500", now, SEOUL) == kst(23, 15, 0) == utc(23, 6, 0)
    assert scheduled_for("1001", now, SEOUL) == kst(23, 10, 1)


def test_scheduled_for_a_passed_time_is_tomorrow() -> None:
    now = kst(23, 10, 0)
    assert scheduled_for("0930", now, SEOUL) == kst(24, 9, 30)
    assert scheduled_for("1000", now, SEOUL) == kst(24, 10, 0), "now itself has passed"
    assert scheduled_for("0000", now, SEOUL) == kst(24, 0, 0)


def test_scheduled_for_is_in_the_callers_zone() -> None:
    now = utc(23, 12, 0)  # 07:00 in New York, 21:00 in Seoul
    assert scheduled_for("0800", now, NEW_YORK) == utc(23, 13, 0)
    assert scheduled_for("0800", now, SEOUL) == kst(24, 8, 0)


@pytest.mark.parametrize("typed", ["2460", "2400", "99", "abcd", "", "15000", "15:0", "-100"])
def test_scheduled_for_no_time_of_day(typed: str) -> None:
    assert scheduled_for(typed, kst(23, 10, 0), SEOUL) is None


# -- retry_at --------------------------------------------------------------------------------


def test_retry_at_uses_the_nth_delay_and_repeats_the_last() -> None:
    policy = CallbackPolicy(retry=(60.0, 300.0, 900.0), window=("00:00", "00:00"))
    ended = kst(23, 12, 0)
    assert [retry_at(n, ended, policy, SEOUL) - ended for n in (1, 2, 3, 4, 7)] == [
        dt.timedelta(seconds=s) for s in (60, 300, 900, 900, 900)]


def test_retry_at_without_delays_waits_a_minute() -> None:
    policy = CallbackPolicy(retry=(), window=("00:00", "00:00"))
    assert retry_at(2, kst(23, 12, 0), policy, SEOUL) == kst(23, 12, 1)


def test_retry_at_is_pushed_into_the_window() -> None:
    policy = CallbackPolicy(retry=(60.0, 300.0), window=("09:00", "20:00"))
    ended = kst(23, 19, 58)
    assert retry_at(1, ended, policy, SEOUL) == kst(23, 19, 59), "still inside"
    assert retry_at(2, ended, policy, SEOUL) == kst(24, 9, 0), "20:03 is closed"
    assert retry_at(1, ended, policy, NEW_YORK) == utc(23, 14, 0), (
        "10:59 UTC is 05:59 that day in New York: it opens at 09:00 EST, 14:00 UTC")
