"""Korean readings of numbers, amounts of money, dates and times, as prompt ids.

Every reading is a list of vocabulary prompt ids (texts in prompts/numbers.yaml) that sound
right played back to back. Numbers are sino-Korean, grouped by four digits (만, 억, 조):

- Inside a group each digit is one word together with its place, the way it is written and
  pronounced as a unit: 2345 is 이천 삼백 사십 오 (`num-2000` `num-300` `num-40` `num-5`), so
  the recorded/rendered words keep the sound they have inside a number (이십, not 이 + 십).
  A 1 before 천, 백 or 십 is not said (천, 백, 십: `num-1000`, `num-100`, `num-10`).
- Group words follow their group: 12345 is 만 이천 삼백 사십 오. A group of exactly 1 before
  만 is not said (만, not 일만), but 억 and 조 keep it (일억, 일조).
- Negative numbers start with 마이너스; 0 is 영.
- Won (KRW, the default): the number, then 원 (12345 -> 만 이천 삼백 사십 오 원). Won has no
  minor unit: a non-zero fraction is an error rather than a silently rounded amount.
- Dollars (USD), for a balance held in dollars: 달러 then the cents with 센트, no "and" and
  no plural: 2500.75 is 이천 오백 달러 칠십 오 센트; only cents when there are no dollars
  (오십 센트); 0 is 영 달러.
- Dates: year number + 년, the month as one word (유월 and 시월 are irregular), the day as
  one word: 2026-06-10 is 이천 이십 육 년 유월 십일.
- Times: 오전/오후, the hour in native Korean with 시 (한 시 ... 열두 시), minutes in
  sino-Korean with 분, nothing for :00: 15:05 is 오후 세 시 오 분, 15:00 is 오후 세 시,
  00:05 is 오전 열두 시 오 분; 00:00 is 자정 and 12:00 is 정오.

Functions take already-validated values and raise ValueError for what Korean cannot say.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

GROUPS = ((10**12, "num-e12"), (10**8, "num-e8"), (10**4, "num-e4"))
"""조, 억, 만: each takes a group of 1..9999 before it."""

LIMIT = 10**16
"""Up to 9999조 (about 10^16): beyond that we have no group word."""


def _group(n: int) -> list[str]:
    """1..9999 as place words: 2345 -> 이천 삼백 사십 오."""
    out: list[str] = []
    for place in (1000, 100, 10):
        digit, n = divmod(n, place)
        if digit:
            out.append(f"num-{digit * place}")
    if n:
        out.append(f"num-{n}")
    return out


def number(n: int) -> list[str]:
    """A sino-Korean cardinal: 12345 -> 만 이천 삼백 사십 오."""
    if abs(n) >= LIMIT:
        raise ValueError(f"numbers are said up to {LIMIT - 1:,} in Korean")
    if n < 0:
        return ["word-minus", *number(-n)]
    if n == 0:
        return ["num-0"]
    out: list[str] = []
    for size, word in GROUPS:
        group, n = divmod(n, size)
        if group == 1 and size == 10**4:
            out.append(word)  # 만, not 일만
        elif group:
            out += [*_group(group), word]
    return out + _group(n)


CURRENCY = "KRW"
"""What an amount is in when the flow names no unit."""


def currency(amount: Decimal, unit: str = CURRENCY) -> list[str]:
    """An amount in `unit` (an ISO code say.py has already checked): KRW or USD."""
    if unit == "KRW":
        return won(amount)
    if unit == "USD":
        return dollars(amount)
    raise ValueError(f"unknown currency unit {unit!r}")


def currency_words(unit: str = CURRENCY) -> list[str]:
    """The currency words (not the numbers) an amount in `unit` may use."""
    return list(_CURRENCY_WORDS[unit])


_CURRENCY_WORDS = {"KRW": ("cur-won",), "USD": ("cur-dollar", "cur-cent")}


def dollars(amount: Decimal) -> list[str]:
    """달러 and 센트: 2500.75 -> 이천 오백 달러 칠십 오 센트."""
    cents_total = amount * 100
    if cents_total != cents_total.to_integral_value():
        raise ValueError("dollar amounts have at most two decimals (cents)")
    whole, cents = divmod(abs(int(cents_total)), 100)
    if whole >= LIMIT:
        raise ValueError(f"amounts are said up to {LIMIT - 1:,} dollars")
    out: list[str] = ["word-minus"] if cents_total < 0 else []
    if whole or not cents:
        out += [*number(whole), "cur-dollar"]
    if cents:
        out += [*number(cents), "cur-cent"]
    return out


def won(amount: Decimal) -> list[str]:
    """Whole won: 12345 -> 만 이천 삼백 사십 오 원."""
    if amount != amount.to_integral_value():
        raise ValueError("won amounts are whole numbers (won has no minor unit)")
    return [*number(int(amount)), "cur-won"]


def date(day: datetime.date) -> list[str]:
    """Year 년, month, day: 2026-11-22 -> 이천 이십 육 년 십일월 이십이일."""
    return [*number(day.year), "date-year", f"month-{day.month}", f"day-{day.day}"]


def time(hour: int, minute: int) -> list[str]:
    """오전/오후, native hour with 시, sino minutes with 분; 자정 and 정오 by name."""
    if minute == 0 and hour in (0, 12):
        return ["time-midnight" if hour == 0 else "time-noon"]
    out = ["time-am" if hour < 12 else "time-pm", f"hour-{hour % 12 or 12}"]
    if minute:
        out += [*number(minute), "time-minute"]
    return out
