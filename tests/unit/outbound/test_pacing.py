"""Pacing: each rule by example (preview, blending, agentless, progressive, predictive's
limits), then the rules that must hold for any moment, over random snapshots (hypothesis)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.services.outbound.pacing import (
    MODES,
    PacingPolicy,
    PacingSnapshot,
    PacingStats,
    abandon_allowance,
    answer_rate,
    decide,
    expected_abandon_rate,
    expected_free_agents,
)

NEW = PacingStats(dialled=0, human_answered=0, abandoned=0, recent_dialled=0, recent_human=0,
                  mean_handle_time=0.0, mean_time_to_answer=0.0, mean_time_to_fail=0.0)
"""A campaign that has dialled nothing yet."""
SEASONED = PacingStats(dialled=90_000, human_answered=27_000, abandoned=400, recent_dialled=300,
                       recent_human=90, mean_handle_time=190.0, mean_time_to_answer=15.0,
                       mean_time_to_fail=20.0)
"""A month in: 30 % answered by humans, 1.5 % abandoned."""


def moment(free: int = 5, logged_in: int = 20, in_flight: int = 0, humans_waiting: int = 0,
           inbound_waiting: int = 0, inbound_ringing: int = 0, longest_wait: float = 0.0,
           stats: PacingStats = SEASONED) -> PacingSnapshot:
    busy = tuple(float(10 * i) for i in range(logged_in - free))
    return PacingSnapshot(
        agents_logged_in=logged_in, agents_free=free, agents_busy_since=busy,
        calls_in_flight=in_flight, humans_waiting=humans_waiting, inbound_waiting=inbound_waiting,
        inbound_ringing=inbound_ringing, inbound_longest_wait=longest_wait, stats=stats)


def abandoning(rate: float) -> PacingStats:
    return dataclasses.replace(SEASONED, abandoned=round(rate * SEASONED.human_answered))


PREVIEW = PacingPolicy("preview")
PROGRESSIVE = PacingPolicy("progressive")
PREDICTIVE = PacingPolicy("predictive")


# --- the rules, by example --------------------------------------------------------------------


def test_preview_never_dials() -> None:
    decision = decide(PREVIEW, moment(free=20, logged_in=20))
    assert (decision.dial, decision.reason) == (0, "preview")


def test_progressive_places_one_call_per_free_agent_less_those_already_out() -> None:
    assert decide(PROGRESSIVE, moment(free=5)) == decide(PROGRESSIVE, moment(free=5))
    decision = decide(PROGRESSIVE, moment(free=5))
    assert (decision.dial, decision.reason, decision.ratio) == (5, "progressive", 1.0)
    assert decide(PROGRESSIVE, moment(free=5, in_flight=2)).dial == 3
    assert decide(PROGRESSIVE, moment(free=5, in_flight=2, humans_waiting=1)).dial == 2
    full = decide(PROGRESSIVE, moment(free=5, in_flight=6))
    assert (full.dial, full.reason) == (0, "in_flight_enough")


def test_no_free_agent_dials_nothing() -> None:
    for policy in (PROGRESSIVE, PREDICTIVE):
        decision = decide(policy, moment(free=0))
        assert (decision.dial, decision.reason) == (0, "no_free_agent")


def test_agents_reserved_and_wanted_by_inbound_are_not_used() -> None:
    """Usable = free - reserved - (inbound waiting + ringing), never below 0."""
    reserve = dataclasses.replace(PROGRESSIVE, reserve_inbound=2)
    assert decide(reserve, moment(free=5)).dial == 3
    assert decide(reserve, moment(free=5, inbound_waiting=1, inbound_ringing=1)).dial == 1
    held = decide(reserve, moment(free=3, inbound_waiting=4))
    assert (held.dial, held.reason) == (0, "reserved_for_inbound")
    assert decide(PROGRESSIVE, moment(free=5, inbound_waiting=2, longest_wait=30.0)).dial == 3


def test_an_inbound_caller_waiting_past_the_limit_stops_every_mode() -> None:
    snapshot = moment(free=10, inbound_waiting=1, longest_wait=30.5)
    for mode in ("progressive", "predictive", "agentless"):
        decision = decide(PacingPolicy(mode, max_channels=10), snapshot)
        assert (decision.dial, decision.reason) == (0, "inbound_waiting")


def test_agentless_keeps_max_channels_in_flight_without_agents() -> None:
    policy = PacingPolicy("agentless", max_channels=10)
    decision = decide(policy, moment(free=0, logged_in=0, in_flight=4))
    assert (decision.dial, decision.reason, decision.ratio) == (6, "agentless", 1.0)
    assert decide(policy, moment(free=0, logged_in=0, in_flight=12)).dial == 0
    unlimited = decide(PacingPolicy("agentless"), moment(free=0, logged_in=0))
    assert (unlimited.dial, unlimited.reason) == (0, "no_channels")


def test_max_channels_caps_the_calls_in_flight_of_any_mode() -> None:
    decision = decide(dataclasses.replace(PROGRESSIVE, max_channels=4),
                      moment(free=10, in_flight=1))
    assert (decision.dial, decision.reason) == (3, "max_channels")


def test_predictive_with_few_agents_is_progressive() -> None:
    decision = decide(PREDICTIVE, moment(free=5, logged_in=14))
    assert (decision.dial, decision.reason, decision.ratio) == (5, "few_agents", 1.0)


def test_predictive_at_or_over_the_abandon_cap_is_progressive() -> None:
    for rate in (0.03, 0.05):
        decision = decide(PREDICTIVE, moment(free=5, in_flight=1, stats=abandoning(rate)))
        assert (decision.dial, decision.reason, decision.ratio) == (4, "abandon_cap", 1.0)
    stopped = decide(PREDICTIVE, moment(free=5, in_flight=5, stats=abandoning(0.03)))
    assert (stopped.dial, stopped.reason) == (0, "abandon_cap")


def test_predictive_dials_harder_than_progressive_when_few_answer() -> None:
    decision = decide(PREDICTIVE, moment(free=5))
    assert decision.reason == "predictive"
    assert 5 < decision.dial <= 15
    assert decision.ratio == decision.dial / 5


def test_predictive_backs_off_as_the_measured_rate_nears_the_cap() -> None:
    dials = [decide(PREDICTIVE, moment(free=5, stats=abandoning(rate))).dial
             for rate in (0.0, 0.015, 0.024, 0.027, 0.0299)]
    assert dials == sorted(dials, reverse=True)
    assert dials[0] > dials[-1] == 5
    near = decide(PREDICTIVE, moment(free=5, stats=abandoning(0.027)))
    assert near.reason == "abandon_backoff"


def test_a_new_campaign_starts_at_one_call_per_agent() -> None:
    """No history: the answer rate's prior is 1, nothing is known of handle times."""
    decision = decide(PREDICTIVE, moment(free=5, stats=NEW))
    assert (decision.dial, decision.ratio) == (5, 1.0)
    assert answer_rate(NEW) == 1.0
    assert answer_rate(SEASONED) == pytest.approx(110 / 320)


def test_predictive_keeps_its_dial_ratio() -> None:
    low = dataclasses.replace(PREDICTIVE, max_dial_ratio=1.5)
    decision = decide(low, moment(free=4))
    assert (decision.dial, decision.ratio) == (6, 1.5)


def test_policies_refuse_settings_that_make_no_sense() -> None:
    with pytest.raises(ValueError, match="pacing mode"):
        PacingPolicy("power")
    with pytest.raises(ValueError, match="max_dial_ratio"):
        PacingPolicy("predictive", max_dial_ratio=0.5)
    with pytest.raises(ValueError, match="max_abandon_rate"):
        PacingPolicy("predictive", max_abandon_rate=0.0)


def test_the_estimates() -> None:
    assert expected_free_agents((), 190.0, 15.0) == (0.0, 0.0)
    assert expected_free_agents((5.0, 50.0), 0.0, 15.0) == (0.0, 0.0)
    free, variance = expected_free_agents((5.0, 50.0), 190.0, 15.0)
    assert 0 < variance < free < 2 * 15 / 190
    rates = [expected_abandon_rate(calls, 0.3, 2.0, 0.5) for calls in range(1, 40)]
    assert rates == sorted(rates)
    assert rates[0] < 0.05 and rates[-1] > 0.5  # the normal approximation is rough at 1 call
    assert expected_abandon_rate(0, 0.3, 2.0, 0.5) == 0.0
    assert abandon_allowance(0.03, 0.03) == abandon_allowance(0.03, 0.05) == 0.0
    assert abandon_allowance(0.03, 0.024) == pytest.approx(0.024)
    assert abandon_allowance(0.03, 0.0) == pytest.approx(0.06)


# --- any moment -------------------------------------------------------------------------------


@st.composite
def snapshots(draw: st.DrawFn) -> PacingSnapshot:
    logged_in = draw(st.integers(0, 60))
    free = draw(st.integers(0, logged_in))
    dialled = draw(st.integers(0, 100_000))
    human = draw(st.integers(0, dialled))
    recent = draw(st.integers(0, 500))
    stats = PacingStats(
        dialled=dialled, human_answered=human, abandoned=draw(st.integers(0, human)),
        recent_dialled=recent, recent_human=draw(st.integers(0, recent)),
        mean_handle_time=draw(st.floats(0, 1000)), mean_time_to_answer=draw(st.floats(0, 60)),
        mean_time_to_fail=draw(st.floats(0, 60)))
    return PacingSnapshot(
        agents_logged_in=logged_in, agents_free=free,
        agents_busy_since=tuple(draw(st.lists(st.floats(0, 3600), min_size=logged_in - free,
                                              max_size=logged_in - free))),
        calls_in_flight=draw(st.integers(0, 200)), humans_waiting=draw(st.integers(0, 10)),
        inbound_waiting=draw(st.integers(0, 10)), inbound_ringing=draw(st.integers(0, 5)),
        inbound_longest_wait=draw(st.floats(0, 120)), stats=stats)


policies = st.builds(
    PacingPolicy, mode=st.sampled_from(MODES),
    max_abandon_rate=st.floats(0.001, 0.5), min_predictive_agents=st.integers(0, 30),
    max_dial_ratio=st.floats(1.0, 10.0), reserve_inbound=st.integers(0, 5),
    inbound_wait_limit=st.floats(0, 60), max_channels=st.integers(0, 100))


@settings(max_examples=3000, deadline=None, derandomize=True)
@given(policies, snapshots())
def test_every_decision_keeps_the_rules(policy: PacingPolicy, snapshot: PacingSnapshot) -> None:
    decision = decide(policy, snapshot)
    assert decision.dial >= 0
    assert decision.ratio >= 0
    if policy.mode == "preview" or snapshot.inbound_longest_wait > policy.inbound_wait_limit:
        assert decision.dial == 0
    if policy.max_channels > 0:
        assert decision.dial == 0 or snapshot.calls_in_flight + decision.dial <= (
            policy.max_channels)
    if policy.mode in ("progressive", "predictive") and decision.dial:
        usable = (snapshot.agents_free - policy.reserve_inbound - snapshot.inbound_waiting
                  - snapshot.inbound_ringing)
        committed = snapshot.calls_in_flight + snapshot.humans_waiting + decision.dial
        assert committed <= max(usable, policy.max_dial_ratio * usable + 1e-9)
        progressive = decide(dataclasses.replace(policy, mode="progressive"), snapshot)
        assert decision.dial >= progressive.dial  # predictive never dials less
        if decision.reason in ("progressive", "few_agents", "abandon_cap"):
            assert committed == usable


@settings(max_examples=500, deadline=None, derandomize=True)
@given(snapshots())
def test_at_the_cap_predictive_is_progressive(snapshot: PacingSnapshot) -> None:
    stats = snapshot.stats
    human = max(stats.human_answered, 1)
    at_cap = dataclasses.replace(snapshot, stats=dataclasses.replace(
        stats, human_answered=human, abandoned=human))
    assert decide(PREDICTIVE, at_cap).dial == decide(PROGRESSIVE, at_cap).dial
