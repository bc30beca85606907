"""Korean readings: value -> exact prompt ids, and what a caller hears (manifest texts joined
by spaces, one space between prompts: 12345원 is heard as 만 이천 삼백 사십 오 원)."""

from __future__ import annotations

import datetime
import itertools
from pathlib import Path

import pytest

from ivr.media.prompts import PromptManifest
from ivr.media.say import SayError, currency_words, say, speak_text

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = PromptManifest.load(ROOT / "prompts")

CASES = [
    # kind, value, ids (space-separated), heard
    ("number", "0", "num-0", "영"),
    ("number", "1", "num-1", "일"),
    ("number", "10", "num-10", "십"),
    ("number", "11", "num-10 num-1", "십 일"),
    ("number", "15", "num-10 num-5", "십 오"),
    ("number", "20", "num-20", "이십"),
    ("number", "21", "num-20 num-1", "이십 일"),
    ("number", "99", "num-90 num-9", "구십 구"),
    ("number", "100", "num-100", "백"),
    ("number", "101", "num-100 num-1", "백 일"),
    ("number", "110", "num-100 num-10", "백 십"),
    ("number", "999", "num-900 num-90 num-9", "구백 구십 구"),
    ("number", "1000", "num-1000", "천"),
    ("number", "1001", "num-1000 num-1", "천 일"),
    ("number", "2345", "num-2000 num-300 num-40 num-5", "이천 삼백 사십 오"),
    ("number", "10000", "num-e4", "만"),
    ("number", "11000", "num-e4 num-1000", "만 천"),
    ("number", "20000", "num-2 num-e4", "이 만"),
    ("number", "12345", "num-e4 num-2000 num-300 num-40 num-5", "만 이천 삼백 사십 오"),
    ("number", "100000", "num-10 num-e4", "십 만"),
    ("number", "1000000", "num-100 num-e4", "백 만"),
    ("number", "10000000", "num-1000 num-e4", "천 만"),
    ("number", "100000000", "num-1 num-e8", "일 억"),
    ("number", "100010000", "num-1 num-e8 num-e4", "일 억 만"),
    ("number", "123456789",
     "num-1 num-e8 num-2000 num-300 num-40 num-5 num-e4 num-6000 num-700 num-80 num-9",
     "일 억 이천 삼백 사십 오 만 육천 칠백 팔십 구"),
    ("number", "1000000000000", "num-1 num-e12", "일 조"),
    ("number", "2000000000000", "num-2 num-e12", "이 조"),
    ("number", "-5", "word-minus num-5", "마이너스 오"),
    ("number", "-12345", "word-minus num-e4 num-2000 num-300 num-40 num-5",
     "마이너스 만 이천 삼백 사십 오"),
    ("number", "1,234", "num-1000 num-200 num-30 num-4", "천 이백 삼십 사"),
    ("currency", "0", "num-0 cur-won", "영 원"),
    ("currency", "1000", "num-1000 cur-won", "천 원"),
    ("currency", "12345", "num-e4 num-2000 num-300 num-40 num-5 cur-won",
     "만 이천 삼백 사십 오 원"),
    ("currency", "12,345", "num-e4 num-2000 num-300 num-40 num-5 cur-won",
     "만 이천 삼백 사십 오 원"),
    ("currency", "12345.00", "num-e4 num-2000 num-300 num-40 num-5 cur-won",
     "만 이천 삼백 사십 오 원"),
    ("currency", "50000", "num-5 num-e4 cur-won", "오 만 원"),
    ("currency", "-500", "word-minus num-500 cur-won", "마이너스 오백 원"),
    ("currency", "100000000", "num-1 num-e8 cur-won", "일 억 원"),
    ("date", "2026-11-22", "num-2000 num-20 num-6 date-year month-11 day-22",
     "이천 이십 육 년 십일월 이십이일"),
    ("date", "2026-06-06", "num-2000 num-20 num-6 date-year month-6 day-6",
     "이천 이십 육 년 유월 육일"),
    ("date", "2026-10-10", "num-2000 num-20 num-6 date-year month-10 day-10",
     "이천 이십 육 년 시월 십일"),
    ("date", "2000-01-01", "num-2000 date-year month-1 day-1", "이천 년 일월 일일"),
    ("date", "1999-12-31", "num-1000 num-900 num-90 num-9 date-year month-12 day-31",
     "천 구백 구십 구 년 십이월 삼십일일"),
    ("time", "00:00", "time-midnight", "자정"),
    ("time", "00:05", "time-am hour-12 num-5 time-minute", "오전 열두 시 오 분"),
    ("time", "04:00", "time-am hour-4", "오전 네 시"),
    ("time", "09:30", "time-am hour-9 num-30 time-minute", "오전 아홉 시 삼십 분"),
    ("time", "12:00", "time-noon", "정오"),
    ("time", "12:15", "time-pm hour-12 num-10 num-5 time-minute", "오후 열두 시 십 오 분"),
    ("time", "13:05", "time-pm hour-1 num-5 time-minute", "오후 한 시 오 분"),
    ("time", "15:00", "time-pm hour-3", "오후 세 시"),
    ("time", "17:45", "time-pm hour-5 num-40 num-5 time-minute", "오후 다섯 시 사십 오 분"),
    ("time", "23:59", "time-pm hour-11 num-50 num-9 time-minute", "오후 열한 시 오십 구 분"),
    ("digits", "0123", "digit-0 digit-1 digit-2 digit-3", "영 일 이 삼"),
    ("digits", "*#", "digit-star digit-hash", "별표 우물 정자"),
]


@pytest.mark.parametrize(("kind", "value", "ids", "heard"), CASES,
                         ids=[f"{c[0]}:{c[1]}" for c in CASES])
def test_reading(kind: str, value: str, ids: str, heard: str) -> None:
    assert say(kind, value, "ko") == ids.split()
    assert speak_text(kind, value, "ko", MANIFEST) == heard


def test_regional_language_codes_use_the_base_language() -> None:
    assert say("time", "13:05", "ko-KR") == say("time", "13:05", "ko")


ERRORS = [
    ("number", "3.5", "not a whole number"),
    ("number", "삼", "not a number"),
    ("number", "10000000000000000", "up to 9,999,999,999,999,999"),
    ("currency", "1000.50", "won has no minor unit"),
    ("currency", "1000원", "not a number"),
    ("date", "2026-06-31", "no such date"),
    ("date", "2026-6-1", "YYYY-MM-DD"),
    ("time", "25:00", "no such time"),
    ("time", "오후 3시", "HH:MM"),
]


@pytest.mark.parametrize(("kind", "value", "message"), ERRORS,
                         ids=[f"{e[0]}:{e[1]}" for e in ERRORS])
def test_invalid_values_raise_say_error_naming_the_value(kind: str, value: str,
                                                         message: str) -> None:
    with pytest.raises(SayError, match=message) as caught:
        say(kind, value, "ko")
    assert repr(value) in str(caught.value) and "in ko" in str(caught.value)


def _samples() -> list[tuple[str, str]]:
    numbers = [*range(0, 10001), *range(10001, 10**7, 9973), *(10**k + 1 for k in range(16))]
    day = datetime.date(2024, 1, 1)
    dates = [(day + datetime.timedelta(days=n)).isoformat() for n in range(366)]
    years = [f"{y:04d}-01-01" for y in range(1, 10000, 37)]
    times = [f"{h:02d}:{m:02d}" for h in range(24) for m in range(60)]
    return ([("number", str(n)) for n in numbers] + [("number", f"-{n}") for n in numbers[:50]]
            + [("currency", str(n)) for n in numbers[:200]]
            + [("date", d) for d in dates + years] + [("time", t) for t in times])


def test_every_id_said_has_a_korean_text() -> None:
    used = {p for kind, value in _samples() for p in say(kind, value, "ko")}
    assert sorted(p for p in used if MANIFEST.text(p, "ko") is None) == []


def test_one_is_silent_before_places_and_man_but_said_before_eok_and_jo() -> None:
    """일천, 일백, 일십 and a group of exactly 일 before 만 are never said; 일억, 일조 are."""
    scales = ("num-e4", "num-e8", "num-e12")
    samples = [*range(1, 10**6, 7), *range(10**8, 10**8 + 10**6, 9973), 10**12 + 10**4]
    for n in samples:
        ids = say("number", str(n), "ko")
        for i, (word, after) in enumerate(itertools.pairwise(ids)):
            assert not (word == "num-1" and after in ("num-10", "num-100", "num-1000")), ids
            if word == "num-1" and after == "num-e4":
                assert i > 0 and ids[i - 1] not in scales, (n, ids)  # 십일만 is fine
    assert say("number", str(10**8 + 10**4), "ko") == ["num-1", "num-e8", "num-e4"]
    assert say("number", str(10**12), "ko") == ["num-1", "num-e12"]


UNIT_CASES = [
    # value, unit, ids, heard: 달러 and 센트 have no plural and no "and" between them
    ("2500.75", "USD", "num-2000 num-500 cur-dollar num-70 num-5 cur-cent",
     "이천 오백 달러 칠십 오 센트"),
    ("1", "USD", "num-1 cur-dollar", "일 달러"),
    ("0.5", "USD", "num-50 cur-cent", "오십 센트"),
    ("0", "USD", "num-0 cur-dollar", "영 달러"),
    ("1000000.01", "usd", "num-100 num-e4 cur-dollar num-1 cur-cent", "백 만 달러 일 센트"),
    ("-3.50", "USD", "word-minus num-3 cur-dollar num-50 cur-cent", "마이너스 삼 달러 오십 센트"),
    ("1234500", "KRW", "num-100 num-20 num-3 num-e4 num-4000 num-500 cur-won",
     "백 이십 삼 만 사천 오백 원"),
    ("12345", "krw", "num-e4 num-2000 num-300 num-40 num-5 cur-won", "만 이천 삼백 사십 오 원"),
    ("0", "KRW", "num-0 cur-won", "영 원"),
]


@pytest.mark.parametrize(("value", "unit", "ids", "heard"), UNIT_CASES,
                         ids=[f"{c[0]}:{c[1]}" for c in UNIT_CASES])
def test_currency_with_a_unit(value: str, unit: str, ids: str, heard: str) -> None:
    assert say("currency", value, "ko", unit) == ids.split()
    assert speak_text("currency", value, "ko", MANIFEST, unit) == heard


def test_without_a_unit_korean_says_won() -> None:
    assert say("currency", "12345", "ko") == say("currency", "12345", "ko", "KRW")


UNIT_ERRORS = [
    ("2500.755", "USD", "at most two decimals"),
    ("12.5", "KRW", "won has no minor unit"),
    ("1", "JPY", r"unknown currency unit 'JPY' \(known: KRW, USD\)"),
    ("1", "", "no currency unit given"),
]


@pytest.mark.parametrize(("value", "unit", "message"), UNIT_ERRORS,
                         ids=[f"{e[0]}:{e[1]}" for e in UNIT_ERRORS])
def test_unit_errors(value: str, unit: str, message: str) -> None:
    with pytest.raises(SayError, match=message) as caught:
        say("currency", value, "ko", unit)
    assert "in ko" in str(caught.value)


def test_every_currency_id_has_a_korean_text() -> None:
    amounts = [f"{d}.{c:02d}" for d in (0, 1, 2, 1234) for c in range(0, 100, 7)]
    used = {p for a in amounts for p in say("currency", a, "ko", "USD")}
    used |= {p for unit in ("KRW", "USD") for p in currency_words("ko", unit)}
    assert sorted(p for p in used if MANIFEST.text(p, "ko") is None) == []
