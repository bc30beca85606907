"""English readings: value -> exact prompt ids, and what a caller hears (manifest texts joined)."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from ivr.media.prompts import PromptManifest
from ivr.media.say import SayError, currency_words, say, speak_text

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = PromptManifest.load(ROOT / "prompts")

CASES = [
    # kind, value, ids (space-separated), heard
    ("number", "0", "num-0", "zero"),
    ("number", "1", "num-1", "one"),
    ("number", "10", "num-10", "ten"),
    ("number", "11", "num-11", "eleven"),
    ("number", "15", "num-15", "fifteen"),
    ("number", "20", "num-20", "twenty"),
    ("number", "21", "num-20 num-1", "twenty one"),
    ("number", "99", "num-90 num-9", "ninety nine"),
    ("number", "100", "num-1 num-e2", "one hundred"),
    ("number", "101", "num-1 num-e2 num-1", "one hundred one"),
    ("number", "110", "num-1 num-e2 num-10", "one hundred ten"),
    ("number", "999", "num-9 num-e2 num-90 num-9", "nine hundred ninety nine"),
    ("number", "1000", "num-1 num-e3", "one thousand"),
    ("number", "1001", "num-1 num-e3 num-1", "one thousand one"),
    ("number", "10000", "num-10 num-e3", "ten thousand"),
    ("number", "12345", "num-12 num-e3 num-3 num-e2 num-40 num-5",
     "twelve thousand three hundred forty five"),
    ("number", "100000", "num-1 num-e2 num-e3", "one hundred thousand"),
    ("number", "1000000", "num-1 num-e6", "one million"),
    ("number", "10000000", "num-10 num-e6", "ten million"),
    ("number", "100000000", "num-1 num-e2 num-e6", "one hundred million"),
    ("number", "123456789",
     "num-1 num-e2 num-20 num-3 num-e6 num-4 num-e2 num-50 num-6 num-e3 num-7 num-e2 num-80 num-9",
     "one hundred twenty three million four hundred fifty six thousand "
     "seven hundred eighty nine"),
    ("number", "2000000000000", "num-2 num-e12", "two trillion"),
    ("number", "1000000001", "num-1 num-e9 num-1", "one billion one"),
    ("number", "-5", "word-minus num-5", "minus five"),
    ("number", "-1234", "word-minus num-1 num-e3 num-2 num-e2 num-30 num-4",
     "minus one thousand two hundred thirty four"),
    ("number", "1,234", "num-1 num-e3 num-2 num-e2 num-30 num-4",
     "one thousand two hundred thirty four"),
    ("number", "42.0", "num-40 num-2", "forty two"),
    ("number", " 7 ", "num-7", "seven"),
    ("currency", "0", "num-0 cur-dollars", "zero dollars"),
    ("currency", "1", "num-1 cur-dollar", "one dollar"),
    ("currency", "1.00", "num-1 cur-dollar", "one dollar"),
    ("currency", "2", "num-2 cur-dollars", "two dollars"),
    ("currency", "0.01", "num-1 cur-cent", "one cent"),
    ("currency", "0.5", "num-50 cur-cents", "fifty cents"),
    ("currency", "1.01", "num-1 cur-dollar word-and num-1 cur-cent", "one dollar and one cent"),
    ("currency", "12345.67",
     "num-12 num-e3 num-3 num-e2 num-40 num-5 cur-dollars word-and num-60 num-7 cur-cents",
     "twelve thousand three hundred forty five dollars and sixty seven cents"),
    ("currency", "12,345", "num-12 num-e3 num-3 num-e2 num-40 num-5 cur-dollars",
     "twelve thousand three hundred forty five dollars"),
    ("currency", "-3.50", "word-minus num-3 cur-dollars word-and num-50 cur-cents",
     "minus three dollars and fifty cents"),
    ("currency", "1000000", "num-1 num-e6 cur-dollars", "one million dollars"),
    ("date", "2026-11-22", "month-11 day-22 num-20 num-20 num-6",
     "November twenty-second twenty twenty six"),
    ("date", "2000-01-01", "month-1 day-1 num-2 num-e3", "January first two thousand"),
    ("date", "2005-06-15", "month-6 day-15 num-2 num-e3 num-5", "June fifteenth two thousand five"),
    ("date", "2010-10-31", "month-10 day-31 num-20 num-10", "October thirty-first twenty ten"),
    ("date", "1999-12-25", "month-12 day-25 num-19 num-90 num-9",
     "December twenty-fifth nineteen ninety nine"),
    ("date", "1905-03-03", "month-3 day-3 num-19 word-oh num-5", "March third nineteen oh five"),
    ("date", "1900-07-04", "month-7 day-4 num-19 num-e2", "July fourth nineteen hundred"),
    ("date", "2024-02-29", "month-2 day-29 num-20 num-20 num-4",
     "February twenty-ninth twenty twenty four"),
    ("time", "00:00", "time-midnight", "midnight"),
    ("time", "00:05", "num-12 word-oh num-5 time-am", "twelve oh five a.m."),
    ("time", "09:30", "num-9 num-30 time-am", "nine thirty a.m."),
    ("time", "9:30", "num-9 num-30 time-am", "nine thirty a.m."),
    ("time", "11:59", "num-11 num-50 num-9 time-am", "eleven fifty nine a.m."),
    ("time", "12:00", "time-noon", "noon"),
    ("time", "12:15", "num-12 num-15 time-pm", "twelve fifteen p.m."),
    ("time", "13:05", "num-1 word-oh num-5 time-pm", "one oh five p.m."),
    ("time", "15:00", "num-3 time-pm", "three p.m."),
    ("time", "23:59", "num-11 num-50 num-9 time-pm", "eleven fifty nine p.m."),
    ("digits", "0123", "digit-0 digit-1 digit-2 digit-3", "zero one two three"),
    ("digits", "*9#", "digit-star digit-9 digit-hash", "star nine pound"),
    ("digits", "010-12 34", "digit-0 digit-1 digit-0 digit-1 digit-2 digit-3 digit-4",
     "zero one zero one two three four"),
]


@pytest.mark.parametrize(("kind", "value", "ids", "heard"), CASES,
                         ids=[f"{c[0]}:{c[1]}" for c in CASES])
def test_reading(kind: str, value: str, ids: str, heard: str) -> None:
    assert say(kind, value, "en") == ids.split()
    assert speak_text(kind, value, "en", MANIFEST) == heard


def test_regional_language_codes_use_the_base_language() -> None:
    assert say("number", "21", "en-US") == say("number", "21", "en")


ERRORS = [
    ("number", "12.5", "not a whole number"),
    ("number", "abc", "not a number"),
    ("number", "", "not a number"),
    ("number", "1e5", "not a number"),
    ("number", "1000000000000000", "up to 999,999,999,999,999"),
    ("currency", "1.234", "at most two decimals"),
    ("currency", "$5", "not a number"),
    ("date", "2026-13-01", "no such date"),
    ("date", "2026-02-29", "no such date"),
    ("date", "20261122", "YYYY-MM-DD"),
    ("date", "2026/11/22", "YYYY-MM-DD"),
    ("time", "24:00", "no such time"),
    ("time", "12:60", "no such time"),
    ("time", "noon", "HH:MM"),
    ("time", "1230", "HH:MM"),
    ("digits", "12a", "not a key"),
    ("digits", "", "no digits"),
    ("color", "red", "kinds are digits, number, currency, date, time"),
]


@pytest.mark.parametrize(("kind", "value", "message"), ERRORS,
                         ids=[f"{e[0]}:{e[1]}" for e in ERRORS])
def test_invalid_values_raise_say_error_naming_the_value(kind: str, value: str,
                                                         message: str) -> None:
    with pytest.raises(SayError, match=message) as caught:
        say(kind, value, "en")
    if kind != "color":
        assert repr(value) in str(caught.value)


def test_unknown_language_is_a_say_error() -> None:
    with pytest.raises(SayError, match=r"language 'fr' \(known: en, ko\)"):
        say("number", "1", "fr")


def _samples() -> list[tuple[str, str]]:
    numbers = [*range(0, 1200), *range(1200, 10**6, 997), *(10**k + 1 for k in range(15))]
    day = datetime.date(2024, 1, 1)
    dates = [(day + datetime.timedelta(days=n)).isoformat() for n in range(366)]
    years = [f"{y:04d}-01-01" for y in range(1, 10000, 37)]
    times = [f"{h:02d}:{m:02d}" for h in range(24) for m in range(60)]
    cents = [f"{d}.{c:02d}" for d in (0, 1, 2, 1234) for c in range(100)]
    return ([("number", str(n)) for n in numbers] + [("number", f"-{n}") for n in numbers[:50]]
            + [("date", d) for d in dates + years] + [("time", t) for t in times]
            + [("currency", c) for c in cents])


def test_every_id_said_has_an_english_text() -> None:
    used = {p for kind, value in _samples() for p in say(kind, value, "en")}
    assert sorted(p for p in used if MANIFEST.text(p, "en") is None) == []


def test_the_reason_alone_leaves_out_the_value_for_callers_that_mask_it() -> None:
    with pytest.raises(SayError) as caught:
        say("number", "4111-1111", "en")
    assert caught.value.reason == "not a number" and "4111" not in caught.value.reason


UNIT_CASES = [
    # value, unit, ids, heard: a balance is read in its own currency, whatever the language
    ("2500.75", "USD", "num-2 num-e3 num-5 num-e2 cur-dollars word-and num-70 num-5 cur-cents",
     "two thousand five hundred dollars and seventy five cents"),
    ("1", "USD", "num-1 cur-dollar", "one dollar"),
    ("0.01", "usd", "num-1 cur-cent", "one cent"),
    ("12345", "KRW", "num-12 num-e3 num-3 num-e2 num-40 num-5 cur-won",
     "twelve thousand three hundred forty five won"),
    ("1", "KRW", "num-1 cur-won", "one won"),
    ("0", "KRW", "num-0 cur-won", "zero won"),
    ("1,234,500", "KRW", "num-1 num-e6 num-2 num-e2 num-30 num-4 num-e3 num-5 num-e2 cur-won",
     "one million two hundred thirty four thousand five hundred won"),
    ("-500", "KRW", "word-minus num-5 num-e2 cur-won", "minus five hundred won"),
    ("1500.00", " krw ", "num-1 num-e3 num-5 num-e2 cur-won", "one thousand five hundred won"),
]


@pytest.mark.parametrize(("value", "unit", "ids", "heard"), UNIT_CASES,
                         ids=[f"{c[0]}:{c[1].strip()}" for c in UNIT_CASES])
def test_currency_with_a_unit(value: str, unit: str, ids: str, heard: str) -> None:
    assert say("currency", value, "en", unit) == ids.split()
    assert speak_text("currency", value, "en", MANIFEST, unit) == heard
    assert "dollar" not in heard or unit.strip().upper() == "USD"


def test_without_a_unit_english_says_dollars() -> None:
    assert say("currency", "12.5", "en") == say("currency", "12.5", "en", "USD")


UNIT_ERRORS = [
    ("currency", "12.50", "KRW", "won amounts are whole numbers"),
    ("currency", "1.234", "USD", "at most two decimals"),
    ("currency", "5", "EUR", r"unknown currency unit 'EUR' \(known: KRW, USD\)"),
    ("currency", "5", "", "no currency unit given"),
    ("currency", "5", "  ", "no currency unit given"),
    ("number", "5", "KRW", "only currency takes a unit"),
]


@pytest.mark.parametrize(("kind", "value", "unit", "message"), UNIT_ERRORS,
                         ids=[f"{e[0]}:{e[1]}:{e[2]}" for e in UNIT_ERRORS])
def test_unit_errors(kind: str, value: str, unit: str, message: str) -> None:
    with pytest.raises(SayError, match=message):
        say(kind, value, "en", unit)


def test_every_currency_id_has_an_english_text() -> None:
    amounts = [f"{d}.{c:02d}" for d in (0, 1, 2, 1234) for c in range(0, 100, 7)]
    used = {p for a in amounts for p in say("currency", a, "en", "USD")}
    used |= {p for a in range(0, 3000, 7) for p in say("currency", str(a), "en", "KRW")}
    used |= {p for unit in ("KRW", "USD") for p in currency_words("en", unit)}
    assert sorted(p for p in used if MANIFEST.text(p, "en") is None) == []
