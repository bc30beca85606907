"""The compliance gate: each rule by example, then every rule at once against an oracle over
random numbers, zones, clocks, histories and lists (hypothesis, fixed seed in CI)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.services.outbound.config_rules import shipped_rule_sets
from ivr.services.outbound.gate import (
    REASONS,
    Clearance,
    DialRequest,
    DncHits,
    PastAttempt,
    clear,
    clearance,
    valid_number,
)
from ivr.services.outbound.rules import Limits, RuleSet

RULES = shipped_rule_sets()
US, KR, UK = RULES["us"], RULES["kr"], RULES["uk"]
NY = "America/New_York"
SEOUL = "Asia/Seoul"
FRESH = DncHits(national_list_date=dt.date(2026, 12, 1))


def at(zone: str, text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=zoneinfo.ZoneInfo(zone))


def ask(rules: RuleSet, now: dt.datetime, **fields: Any) -> tuple[str, ...]:
    request = DialRequest(**{"number": "+12125550100", "zone": NY, "dnc": FRESH, **fields})
    return clear(request, rules, now).reasons


def test_a_us_number_in_its_window_is_cleared() -> None:
    assert ask(US, at(NY, "2026-12-07T10:00")) == ()


@pytest.mark.parametrize("local, allowed", [
    ("2026-12-07T07:59", False), ("2026-12-07T08:00", True), ("2026-12-07T20:59", True),
    ("2026-12-07T21:00", False), ("2026-12-08T02:00", False)])
def test_the_window_is_the_callee_s_local_time(local: str, allowed: bool) -> None:
    now = at(NY, local)
    assert (ask(US, now) == ()) is allowed
    # The same instant for a Seoul number is a different local hour.
    seoul = now.astimezone(zoneinfo.ZoneInfo(SEOUL)).hour
    assert (ask(KR, now, zone=SEOUL, number="+821012345678", dnc=DncHits()) == ()) is (
        8 <= seoul < 21)


def test_outside_the_window_the_verdict_says_when_it_opens() -> None:
    verdict = clear(DialRequest("+12125550100", NY, dnc=FRESH), US, at(NY, "2026-12-07T22:30"))
    assert verdict.reasons == ("outside_window",)
    assert not verdict.permanent
    assert verdict.retry_at == at(NY, "2026-12-08T08:00")


def test_korean_night_calls_need_night_consent() -> None:
    night = at(SEOUL, "2026-12-07T22:00")
    request = DialRequest("+821012345678", SEOUL)
    assert clear(request, KR, night).reasons == ("night_no_consent",)
    assert clear(dataclasses.replace(request, night_consent=True), KR, night).allowed
    assert clear(request, KR, at(SEOUL, "2026-12-07T20:00")).allowed


def test_holidays_are_the_callee_s_dates() -> None:
    christmas = at(SEOUL, "2026-12-25T10:00")
    verdict = clear(DialRequest("+821012345678", SEOUL), KR, christmas)
    assert verdict.reasons == ("holiday",)
    assert verdict.retry_at == at(SEOUL, "2026-12-26T08:00")


def test_every_do_not_call_list_blocks_for_good() -> None:
    now = at(NY, "2026-12-07T10:00")
    hits = DncHits(internal=True, campaign=True, national=True,
                   national_list_date=dt.date(2026, 12, 1))
    verdict = clear(DialRequest("+12125550100", NY, dnc=hits), US, now)
    assert verdict.reasons == ("dnc_internal", "dnc_campaign", "dnc_national")
    assert verdict.permanent and verdict.retry_at is None


def test_a_stale_or_missing_national_list_stops_us_dialling() -> None:
    now = at(NY, "2026-12-07T10:00")
    assert ask(US, now, dnc=DncHits()) == ("national_list_missing",)
    assert ask(US, now, dnc=DncHits(national_list_date=dt.date(2026, 11, 5))) == (
        "national_list_stale",)
    assert ask(US, now, dnc=DncHits(national_list_date=dt.date(2026, 11, 6))) == ()
    assert "national_list_missing" not in ask(KR, now)  # Korea has no such list here


def test_attempt_limits_per_day_24h_and_lifetime() -> None:
    now = at(NY, "2026-12-07T10:00")
    three = tuple(PastAttempt(at(NY, f"2026-12-07T0{h}:30") if h > 7 else
                              at(NY, f"2026-12-06T2{h - 5}:00"), "no_answer", "c")
                  for h in (6, 8, 9))
    # Two today, one last night: the rolling 24 h sees three, the day two.
    assert ask(US, now, history=three, campaign="c") == ("limit_24h",)
    ten = tuple(PastAttempt(now - dt.timedelta(days=3 + i), "busy", "c") for i in range(10))
    assert ask(US, now, history=ten, campaign="c") == ("lifetime_limit",)
    assert ask(US, now, history=ten, campaign="other") == ()


def test_no_recall_after_an_abandoned_call_unless_an_agent_waits() -> None:
    now = at(NY, "2026-12-07T10:00")
    history = (PastAttempt(now - dt.timedelta(hours=30), "abandoned", "c"),)
    verdict = clear(DialRequest("+12125550100", NY, "c", history=history, dnc=FRESH), US, now)
    assert verdict.reasons == ("abandoned_recently",)
    # 42 hours on is 04:00 in New York: the window opens at 08:00.
    assert verdict.retry_at == at(NY, "2026-12-09T08:00")
    assert ask(US, now, history=history, agent_reserved=True) == ()


def test_consent_expires() -> None:
    now = at(SEOUL, "2026-12-07T10:00")
    old = DialRequest("+821012345678", SEOUL, consent_at=now - dt.timedelta(days=731))
    assert clear(old, KR, now).reasons == ("consent_expired",)
    required = dataclasses.replace(KR, require_consent=True)
    assert clear(DialRequest("+821012345678", SEOUL), required, now).reasons == ("no_consent",)


@pytest.mark.parametrize("number", ["", "12", "abc", "+1234567890123456", "1" * 5000, "1 2"])
def test_bad_numbers_are_refused(number: str) -> None:
    assert not valid_number(number)
    assert ask(US, at(NY, "2026-12-07T10:00"), number=number) == ("bad_number",)


def test_an_unknown_zone_is_refused() -> None:
    assert ask(US, at(NY, "2026-12-07T10:00"), zone="Mars/Olympus") == ("unknown_zone",)


def test_only_a_cleared_request_gets_a_clearance() -> None:
    now = at(NY, "2026-12-07T10:00")
    ok = clearance(DialRequest("+12125550100", NY, "c", dnc=FRESH), US, now)
    assert ok == Clearance("+12125550100", "c", now, "us")
    assert not isinstance(clearance(DialRequest("+12125550100", NY), US, now), Clearance)


# -- every rule at once, against an oracle written another way --------------------------------

ZONES = ["America/New_York", "America/Los_Angeles", "Asia/Seoul", "Europe/London",
         "Pacific/Auckland", "Asia/Kolkata", "America/St_Johns"]
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def minutes(text: str) -> int:
    return int(text[:2]) * 60 + int(text[3:])


def in_window(minute: int, window: tuple[str, str]) -> bool:
    start, end = minutes(window[0]), minutes(window[1])
    return start == end or (minute - start) % 1440 < (end - start) % 1440


def oracle(request: DialRequest, rules: RuleSet, now: dt.datetime) -> set[str]:
    """What the rules forbid, each checked on its own."""
    local = now.astimezone(zoneinfo.ZoneInfo(request.zone))
    minute = local.hour * 60 + local.minute
    out: set[str] = set()
    out |= {name for name, hit in vars_of(request.dnc).items() if hit}
    if rules.national_list_max_age_days is not None:
        date = request.dnc.national_list_date
        if date is None:
            out.add("national_list_missing")
        elif (local.date() - date).days > rules.national_list_max_age_days:
            out.add("national_list_stale")
    if request.consent_at is not None and rules.consent_days is not None and \
            (now - request.consent_at).total_seconds() > rules.consent_days * 86400:
        out.add("consent_expired")
    if request.consent_at is None and rules.require_consent:
        out.add("no_consent")
    if local.date() in rules.holidays:
        out.add("holiday")
    if local.weekday() not in rules.days:
        out.add("closed_day")
    if not in_window(minute, rules.window):
        night = rules.night_window
        if night is None or not in_window(minute, night):
            out.add("outside_window")
        elif not request.night_consent:
            out.add("night_no_consent")
    today = [a for a in request.history
             if a.at.astimezone(zoneinfo.ZoneInfo(request.zone)).date() == local.date()
             and a.at <= now]
    if rules.limits.per_day is not None and len(today) >= rules.limits.per_day:
        out.add("daily_limit")
    last_day = [a for a in request.history if 0 <= (now - a.at).total_seconds() < 86400]
    if rules.limits.per_24h is not None and len(last_day) >= rules.limits.per_24h:
        out.add("limit_24h")
    mine = [a for a in request.history if a.campaign == request.campaign]
    if rules.limits.lifetime is not None and request.campaign and \
            len(mine) >= rules.limits.lifetime:
        out.add("lifetime_limit")
    if not request.agent_reserved and any(
            a.result == "abandoned" and 0 <= (now - a.at).total_seconds()
            < rules.abandon.recall_block_hours * 3600 for a in request.history):
        out.add("abandoned_recently")
    return out


def vars_of(hits: DncHits) -> dict[str, bool]:
    return {"dnc_internal": hits.internal, "dnc_campaign": hits.campaign,
            "dnc_national": hits.national}


moments = st.integers(0, 2 * 365 * 1440).map(lambda m: START + dt.timedelta(minutes=m))
clocks = st.sampled_from(["00:00", "06:30", "08:00", "09:15", "20:00", "21:00", "23:59"])
rule_sets = st.one_of(
    st.sampled_from(list(RULES.values())),
    st.builds(lambda w, n, days, hol, lim: RuleSet(
        "random", window=w, night_window=n, days=frozenset(days), holidays=frozenset(hol),
        limits=Limits(*lim)),
        st.tuples(clocks, clocks), st.none() | st.tuples(clocks, clocks),
        st.sets(st.integers(0, 6), min_size=1),
        st.sets(moments.map(lambda m: m.date()), max_size=20),
        st.tuples(st.none() | st.integers(1, 4), st.none() | st.integers(1, 4),
                  st.none() | st.integers(1, 6))))


@st.composite
def requests(draw: st.DrawFn) -> tuple[DialRequest, dt.datetime]:
    zone = draw(st.sampled_from(ZONES))
    # Half the clocks fall on or next to a window's edge in the callee's zone.
    edge = st.builds(lambda m, clock, step: dt.datetime.combine(
        m.date(), dt.time(int(clock[:2]), int(clock[3:])), zoneinfo.ZoneInfo(zone))
        + dt.timedelta(minutes=step), moments, clocks, st.sampled_from([-1, 0, 1]))
    now = draw(moments | edge)
    history = draw(st.lists(st.builds(
        PastAttempt, st.integers(1, 5 * 1440).map(lambda m: now - dt.timedelta(minutes=m)),
        st.sampled_from(["no_answer", "busy", "abandoned", "human", "machine"]),
        st.sampled_from(["c", "d", ""])), max_size=8))
    dnc = DncHits(draw(st.booleans()), draw(st.booleans()), draw(st.booleans()),
                  draw(st.none() | moments.map(lambda m: m.date())))
    consent = draw(st.none() | st.integers(0, 1000).map(lambda d: now - dt.timedelta(days=d)))
    return DialRequest("+" + str(draw(st.integers(10**9, 10**14))), zone,
                       draw(st.sampled_from(["c", "d"])), draw(st.booleans()), tuple(history),
                       dnc, consent, draw(st.booleans())), now


@settings(max_examples=3000, deadline=None, derandomize=True)
@given(requests(), rule_sets)
def test_the_gate_allows_exactly_what_no_rule_forbids(case: tuple[DialRequest, dt.datetime],
                                                      rules: RuleSet) -> None:
    request, now = case
    verdict = clear(request, rules, now)
    assert set(verdict.reasons) == oracle(request, rules, now)
    assert set(verdict.reasons) <= set(REASONS)
    if verdict.retry_at is not None:
        assert verdict.retry_at > now and not verdict.permanent
        later = oracle(request, rules, verdict.retry_at)
        assert not later & {"holiday", "closed_day", "outside_window", "night_no_consent"}
