"""The simulator: a seed is a run (the same report twice), every dial ends in exactly one
outcome, and each mode keeps its promise there (preview dials nothing, progressive abandons
nobody, agentless needs no agent, predictive stays under the cap). Short runs, no timings."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import pytest

from ivr.services.outbound.pacing import PacingPolicy
from ivr.services.outbound.simulator import (
    OUTCOMES,
    CallModel,
    Dist,
    SimCampaign,
    SimReport,
    simulate,
)

DAY = 2.0  # hours: a short calling window keeps the tests quick


def run(mode: str, seed: int = 7, **changes: Any) -> SimReport:
    campaign = SimCampaign(PacingPolicy(mode, max_channels=8 if mode == "agentless" else 0),
                           days=1, window_hours=DAY, tick_seconds=0)
    return simulate(dataclasses.replace(campaign, **changes), seed)


def conserved(report: SimReport) -> None:
    outcomes = report.outcomes
    assert set(outcomes) == set(OUTCOMES)
    assert sum(outcomes.values()) == report.dials
    assert report.humans == (outcomes["connected"] + outcomes["abandoned"]
                             + outcomes["machine_connected"] + outcomes["machine_abandoned"])
    assert report.abandoned == outcomes["abandoned"] + outcomes["machine_abandoned"]


def test_a_seed_is_a_run() -> None:
    first, again = run("predictive", seed=3, days=2), run("predictive", seed=3, days=2)
    assert first == again  # every field but the CPU time
    assert run("predictive", seed=4, days=2) != first


@pytest.mark.parametrize("mode", ["progressive", "predictive", "agentless", "preview"])
def test_every_dial_ends_in_exactly_one_outcome(mode: str) -> None:
    report = run(mode, days=2)
    conserved(report)
    assert len(report.daily_abandon_rates) == 2
    assert sum(report.decisions.values()) > 0


def test_preview_dials_nothing() -> None:
    report = run("preview")
    assert report.dials == 0
    assert set(report.decisions) == {"preview"}


def test_progressive_abandons_nobody() -> None:
    """One call per free agent: every human finds the agent it was dialled for."""
    report = run("progressive")
    conserved(report)
    assert report.dials > 100
    assert report.abandoned == 0
    assert 0.5 < report.talk_utilisation < 1.0


def test_agentless_gives_humans_to_the_flow_not_to_agents() -> None:
    report = run("agentless", agents=0)
    conserved(report)
    assert report.outcomes["connected"] > 0
    assert report.abandoned == 0
    assert report.talk_utilisation == 0.0


def test_predictive_talks_more_than_progressive_and_stays_under_the_cap() -> None:
    progressive = run("progressive", days=2, window_hours=4.0)
    predictive = run("predictive", days=2, window_hours=4.0)
    conserved(predictive)
    assert predictive.talk_utilisation > progressive.talk_utilisation
    assert predictive.dials > progressive.dials
    assert 0 < predictive.abandon_rate < 0.03
    assert "predictive" in predictive.decisions


def test_a_small_team_is_paced_as_progressive() -> None:
    report = run("predictive", agents=10)
    assert report.abandoned == 0
    assert "few_agents" in report.decisions


def test_the_pacing_tick_runs_between_events() -> None:
    with_tick = run("progressive", tick_seconds=1.0)
    without = run("progressive")
    conserved(with_tick)
    assert sum(with_tick.decisions.values()) > sum(without.decisions.values()) + DAY * 3600 / 2


def test_the_abandonment_window_is_the_last_days() -> None:
    report = run("predictive", days=3, window_days=1)
    last_day = report.daily_abandon_rates[-1]
    assert report.abandon_rate == pytest.approx(last_day)


def test_distributions_draw_what_they_say() -> None:
    rng = random.Random(1)
    assert Dist("fixed", 3.0).sampler(rng)() == 3.0
    uniform = Dist("uniform", 2.0, 4.0).sampler(rng)
    assert all(2.0 <= uniform() <= 4.0 for _ in range(1000))
    for kind, spread in (("exponential", 0.0), ("lognormal", 90.0)):
        draw = Dist(kind, 180.0, spread).sampler(rng)
        draws = [draw() for _ in range(20_000)]
        assert min(draws) > 0
        assert sum(draws) / len(draws) == pytest.approx(180.0, rel=0.05)
    with pytest.raises(ValueError, match="distribution"):
        Dist("normal", 1.0).sampler(rng)


def test_a_call_model_with_shares_over_one_is_refused() -> None:
    with pytest.raises(ValueError, match="shares"):
        CallModel(human=0.6, machine=0.5)
