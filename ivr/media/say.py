"""Turn values into the prompt ids that speak them in the caller's language.

A flow says `{number: "${count}"}`; the interpreter asks `say("number", "12345", "ko")` and
plays the ids it gets back, one vocabulary prompt after the other. Values arrive as text from
variables (HTTP results, expressions, collected digits), so parsing is lenient where a value
is unambiguous ("12,345", "42.0", " 7 ") and strict where a guess could mislead a caller (a
number with a fraction, a malformed date): those raise SayError, which the interpreter reports.

The per-language rules live in numbers_<lang>.py; this module validates the value once for
every language. `speak_text` renders what a caller would hear as text, for tests, traces and
the simulator.

Money has a unit. Without one, an amount is in the language's own currency (won in Korean,
dollars in English), which is right only when the caller's language and the account's
currency agree; a flow that reads a balance should pass the account's currency (`unit`), so a
won balance read to an English caller is "... won", never "... dollars".
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal, InvalidOperation
from typing import Protocol

from . import numbers_en, numbers_ko
from .prompts import PromptManifest


class SayError(ValueError):
    """A value that cannot be said: the message names the kind, the value and why.

    `reason` alone is there for callers that name the value themselves (or must mask it).
    """

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or message


class Reader(Protocol):
    """What a language module offers (numbers_en, numbers_ko)."""

    def number(self, n: int) -> list[str]: ...

    def currency(self, amount: Decimal, unit: str = ...) -> list[str]: ...

    def currency_words(self, unit: str = ...) -> list[str]: ...

    def date(self, day: datetime.date) -> list[str]: ...

    def time(self, hour: int, minute: int) -> list[str]: ...


READERS: dict[str, Reader] = {"en": numbers_en, "ko": numbers_ko}
KINDS = ("digits", "number", "currency", "date", "time")
CURRENCIES = ("KRW", "USD")
"""ISO 4217 codes every language can say amounts in."""

_DIGIT_WORDS = {"*": "digit-star", "#": "digit-hash"}
_DIGIT_SEPARATORS = frozenset(" -.()+/")
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_TIME = re.compile(r"(\d{1,2}):(\d{2})")


def digit_prompts(value: str) -> list[str]:
    """'12#' -> ['digit-1', 'digit-2', 'digit-hash']; other characters are skipped.

    The lenient form the interpreter used before `say`; kept for callers that want it.
    """
    return [f"digit-{c}" if c.isdigit() else _DIGIT_WORDS[c]
            for c in value if (c.isascii() and c.isdigit()) or c in _DIGIT_WORDS]


def _digits(value: str) -> list[str]:
    """Keys one by one; separators people write in numbers (space - . ( ) + /) are skipped."""
    out: list[str] = []
    for char in value:
        if char.isascii() and char.isdigit():
            out.append(f"digit-{char}")
        elif char in _DIGIT_WORDS:
            out.append(_DIGIT_WORDS[char])
        elif char not in _DIGIT_SEPARATORS:
            raise ValueError(f"{char!r} is not a key (digits, * and # only)")
    if not out:
        raise ValueError("no digits in it")
    return out


def _decimal(value: str) -> Decimal:
    """'12,345.60' -> Decimal('12345.60'); thousands separators and spaces are ignored."""
    text = value.strip().replace(",", "").replace("_", "")
    if not _DECIMAL.fullmatch(text):
        raise ValueError("not a number")
    try:
        return Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the pattern already guarantees it
        raise ValueError("not a number") from exc


def _integer(value: str) -> int:
    """Integers, and whole values that arithmetic turned into decimals ("42.0")."""
    amount = _decimal(value)
    if amount != amount.to_integral_value():
        raise ValueError("not a whole number (say amounts of money with currency)")
    return int(amount)


def _date(value: str) -> datetime.date:
    match = _DATE.fullmatch(value.strip())
    if not match:
        raise ValueError("expected an ISO date YYYY-MM-DD")
    year, month, day = (int(g) for g in match.groups())
    try:
        return datetime.date(year, month, day)
    except ValueError as exc:
        raise ValueError(f"no such date ({exc})") from exc


def _time(value: str) -> tuple[int, int]:
    match = _TIME.fullmatch(value.strip())
    if not match:
        raise ValueError("expected a 24-hour time HH:MM")
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        raise ValueError("no such time of day (00:00 to 23:59)")
    return hour, minute


def currency_unit(unit: str) -> str:
    """'krw ' -> 'KRW'; ValueError for an empty unit or one with no words."""
    code = unit.strip().upper()
    if not code:
        raise ValueError(f"no currency unit given (one of {', '.join(CURRENCIES)})")
    if code not in CURRENCIES:
        raise ValueError(f"unknown currency unit {unit.strip()!r} "
                         f"(known: {', '.join(CURRENCIES)})")
    return code


def reader(language: str) -> Reader:
    """The rules for a language code; 'en-US' and 'ko_KR' use their base language."""
    base = re.split(r"[-_]", language.strip().lower(), maxsplit=1)[0]
    try:
        return READERS[base]
    except KeyError:
        known = ", ".join(sorted(READERS))
        raise SayError(f"cannot say values in language {language!r} (known: {known})") from None


def say(kind: str, value: str, language: str, unit: str | None = None) -> list[str]:
    """The prompt ids that say `value` as `kind` in `language`, in playing order.

    kind: digits | number | currency | date | time (see docs/flows.md). `unit` is for currency
    only: an ISO code (KRW, USD, any case); None is the language's own currency, while ""
    (a unit template that came out empty) is an error rather than a guess. Raises SayError.
    """
    if kind not in KINDS:
        raise SayError(f"cannot say a {kind!r}: kinds are {', '.join(KINDS)}")
    if unit is not None and kind != "currency":
        raise SayError(f"cannot say {kind} {value!r} with unit {unit!r}: "
                       "only currency takes a unit")
    read = reader(language)
    try:
        if kind == "digits":
            return _digits(value)
        if kind == "number":
            return read.number(_integer(value))
        if kind == "currency":
            if unit is None:
                return read.currency(_decimal(value))
            code = currency_unit(unit)
            return read.currency(_decimal(value), code)
        if kind == "date":
            return read.date(_date(value))
        return read.time(*_time(value))
    except ValueError as exc:
        raise SayError(f"cannot say {kind} {value!r} in {language}: {exc}", str(exc)) from exc


def currency_words(language: str, unit: str | None = None) -> list[str]:
    """The fixed words (not the numbers) any amount in `unit` may use in `language`.

    What the checker requires of the prompts when the amount is only known at run time.
    Raises SayError for an unknown language or unit.
    """
    read = reader(language)
    if unit is None:
        return read.currency_words()
    try:
        code = currency_unit(unit)
    except ValueError as exc:
        raise SayError(f"cannot say currency in {language}: {exc}", str(exc)) from exc
    return read.currency_words(code)


def speak_text(kind: str, value: str, language: str, manifest: PromptManifest,
               unit: str | None = None) -> str:
    """What the caller hears, as text: the manifest texts of `say(...)` joined by spaces."""
    return " ".join(manifest.text(p, language) or f"[{p}]"
                    for p in say(kind, value, language, unit))
