"""American English readings of numbers, amounts of money, dates and times, as prompt ids.

Every reading is a list of vocabulary prompt ids (texts in prompts/numbers.yaml) that sound
right played back to back. The rules, chosen for a US caller:

- Numbers: short scale, no "and" inside a number: 101 is "one hundred one", 12345 is
  "twelve thousand three hundred forty five" (`num-40` then `num-5`), -7 is "minus seven".
- Dollars (USD, the default): "one dollar", "two dollars", "one cent", "zero dollars"; cents
  follow with "and" ("five dollars and sixty seven cents"); only cents when there are no
  dollars ("fifty cents").
- Won (KRW), for a balance held in won: whole amounts only, and "won" never takes an s
  ("one won", "twelve thousand won"), as English speakers say it.
- Dates: month, ordinal day, year: 2026-11-22 is "November twenty-second, twenty twenty six".
  Years are read in pairs ("nineteen eighty seven", "twenty ten"), with "oh" for a single
  digit ("nineteen oh five"), "hundred" for round centuries ("nineteen hundred"), and as a
  cardinal for 2000-2009 and other round thousands ("two thousand five", "two thousand").
- Times: 12-hour clock, minutes as a number, "oh" before a single digit, nothing for :00:
  15:05 is "three oh five p.m.", 15:00 is "three p.m.", 00:05 is "twelve oh five a.m.";
  00:00 is "midnight" and 12:00 is "noon" (12 a.m./p.m. are ambiguous to many listeners).

Functions take already-validated values and raise ValueError for what English cannot say.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

SCALES = ((10**12, "num-e12"), (10**9, "num-e9"), (10**6, "num-e6"), (10**3, "num-e3"))
"""trillion, billion, million, thousand: each takes a multiplier of 1..999 before it."""

LIMIT = 10**15
"""Up to 999 trillion: beyond that we have no scale word (and no caller needs it)."""


def _below_100(n: int) -> list[str]:
    """1..99: one word below twenty, else tens then ones ("forty" "five")."""
    if n == 0:
        return []
    if n < 20:
        return [f"num-{n}"]
    tens, ones = divmod(n, 10)
    return [f"num-{tens * 10}"] + ([f"num-{ones}"] if ones else [])


def _below_1000(n: int) -> list[str]:
    hundreds, rest = divmod(n, 100)
    head = [f"num-{hundreds}", "num-e2"] if hundreds else []
    return head + _below_100(rest)


def number(n: int) -> list[str]:
    """A cardinal: 12345 -> twelve thousand three hundred forty five."""
    if abs(n) >= LIMIT:
        raise ValueError(f"numbers are said up to {LIMIT - 1:,} in English")
    if n < 0:
        return ["word-minus", *number(-n)]
    if n == 0:
        return ["num-0"]
    out: list[str] = []
    for scale, word in SCALES:
        group, n = divmod(n, scale)
        if group:
            out += [*_below_1000(group), word]
    return out + _below_1000(n)


CURRENCY = "USD"
"""What an amount is in when the flow names no unit."""


def currency(amount: Decimal, unit: str = CURRENCY) -> list[str]:
    """An amount in `unit` (an ISO code say.py has already checked): USD or KRW."""
    if unit == "USD":
        return dollars(amount)
    if unit == "KRW":
        return won(amount)
    raise ValueError(f"unknown currency unit {unit!r}")


def currency_words(unit: str = CURRENCY) -> list[str]:
    """The currency words (not the numbers) an amount in `unit` may use."""
    return list(_CURRENCY_WORDS[unit])


_CURRENCY_WORDS = {"USD": ("cur-dollar", "cur-dollars", "word-and", "cur-cent", "cur-cents"),
                   "KRW": ("cur-won",)}


def won(amount: Decimal) -> list[str]:
    """Whole won, no plural: 12345 -> twelve thousand three hundred forty five won."""
    if amount != amount.to_integral_value():
        raise ValueError("won amounts are whole numbers (won has no minor unit)")
    return [*number(int(amount)), "cur-won"]


def dollars(amount: Decimal) -> list[str]:
    """Dollars and cents: 12345.67 -> ... forty five dollars and sixty seven cents."""
    cents_total = amount * 100
    if cents_total != cents_total.to_integral_value():
        raise ValueError("dollar amounts have at most two decimals (cents)")
    cents_abs = abs(int(cents_total))
    dollars, cents = divmod(cents_abs, 100)
    if dollars >= LIMIT:
        raise ValueError(f"amounts are said up to {LIMIT - 1:,} dollars")
    out: list[str] = ["word-minus"] if cents_total < 0 else []
    if dollars or not cents:
        out += [*number(dollars), "cur-dollar" if dollars == 1 else "cur-dollars"]
    if cents:
        if dollars:
            out.append("word-and")
        out += [*number(cents), "cur-cent" if cents == 1 else "cur-cents"]
    return out


def year(y: int) -> list[str]:
    """Years the way Americans read them (see the module docstring)."""
    hi, lo = divmod(y, 100)
    if y < 1000 or (hi % 10 == 0 and lo < 10):
        return number(y)  # 987, 2000, 2005, 3000
    if lo == 0:
        return [*number(hi), "num-e2"]  # nineteen hundred
    if lo < 10:
        return [*number(hi), "word-oh", *number(lo)]  # nineteen oh five
    return [*number(hi), *number(lo)]  # twenty twenty six, twenty ten


def date(day: datetime.date) -> list[str]:
    """Month, ordinal day, year: November twenty-second, twenty twenty six."""
    return [f"month-{day.month}", f"day-{day.day}", *year(day.year)]


def time(hour: int, minute: int) -> list[str]:
    """12-hour clock: three oh five p.m.; midnight and noon by name."""
    if minute == 0 and hour in (0, 12):
        return ["time-midnight" if hour == 0 else "time-noon"]
    out = number(hour % 12 or 12)
    if minute:
        out += ["word-oh", *number(minute)] if minute < 10 else number(minute)
    out.append("time-am" if hour < 12 else "time-pm")
    return out
