"""Outbound pacing benchmark: progressive against predictive on the same simulated campaign,
predictive's abandonment over many seeded 30-day runs, and what one decide() costs.

    .venv/bin/python bench/outbound.py             # 1,000 runs, 2 workers
    .venv/bin/python bench/outbound.py --runs 50   # a quicker check
    .venv/bin/python bench/outbound.py --what-if --days 10   # what moves the gain

The campaign (ivr/services/outbound/simulator.py's defaults): 20 agents, 8 h a day, 30 days;
of the dials 30 % are answered by a human, 15 % by a machine, 8 % busy, 5 % fail, the rest
ring 15-25 s unanswered; AMD errs on 3 % of humans and 5 % of machines; talk lognormal, mean
180 s (sd 120), wrap-up lognormal, mean 10 s (sd 5). The pacing is ivr/services/outbound/
pacing.py's decide(), the live dialler's.

Targets (issue 16): predictive's talk-time utilisation +30 % over progressive; the 30-day
abandonment at most 3 % in at least 99 % of 1,000 seeded runs; decide() in microseconds at
50 agents (the live loop's budget is 5 ms a pass).
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ivr.services.outbound.pacing import (
    PacingPolicy,
    PacingSnapshot,
    PacingStats,
    decide,
)
from ivr.services.outbound.simulator import Dist, SimCampaign, SimReport, simulate

CAP = 0.03


def campaign(mode: str, days: int, tick: float) -> SimCampaign:
    return SimCampaign(PacingPolicy(mode, max_abandon_rate=CAP), agents=20, days=days,
                       tick_seconds=tick)


def side_by_side(days: int) -> list[tuple[str, SimReport]]:
    """One seed, both modes with the live loop's 1 s tick, and predictive on events only (the
    many runs' setting, to show it paces the same)."""
    runs = [("progressive, 1 s tick", campaign("progressive", days, 1.0)),
            ("predictive, 1 s tick", campaign("predictive", days, 1.0)),
            ("predictive, events only", campaign("predictive", days, 0.0))]
    return [(name, simulate(settings, seed=0)) for name, settings in runs]


def one_run(job: tuple[int, int]) -> tuple[int, float, float, float, float, int]:
    """A seeded predictive run, events only: seed, 30-day abandonment, worst day, utilisation,
    CPU seconds, days over the cap."""
    seed, days = job
    report = simulate(campaign("predictive", days, 0.0), seed)
    over = sum(rate > CAP for rate in report.daily_abandon_rates)
    return (seed, report.abandon_rate, max(report.daily_abandon_rates),
            report.talk_utilisation, report.cpu_seconds, over)


def decide_cost(agents: int = 50, calls: int = 200_000) -> dict[str, float]:
    """Median microseconds of one decide() at `agents` agents, by the path it takes."""
    rng = random.Random(1)
    stats = PacingStats(dialled=90_000, human_answered=27_000, abandoned=500,
                        recent_dialled=300, recent_human=90, mean_handle_time=190.0,
                        mean_time_to_answer=15.0, mean_time_to_fail=20.0)
    policy = PacingPolicy("predictive")
    cases = {"3 free, 1 call in flight": (3, 1), "3 free, 8 in flight": (3, 8),
             "none free": (0, 4)}
    result = {}
    for name, (free, in_flight) in cases.items():
        snapshot = PacingSnapshot(
            agents_logged_in=agents, agents_free=free,
            agents_busy_since=tuple(rng.uniform(0, 400) for _ in range(agents - free)),
            calls_in_flight=in_flight, humans_waiting=0, inbound_waiting=0, inbound_ringing=0,
            inbound_longest_wait=0.0, stats=stats)
        batches = []
        for _ in range(calls // 1000):
            started = time.perf_counter()
            for _ in range(1000):
                decide(policy, snapshot)
            batches.append((time.perf_counter() - started) / 1000 * 1e6)
        dials = decide(policy, snapshot).dial
        result[f"predictive, {name} (dials {dials})"] = statistics.median(batches)
    return result


def what_if(days: int) -> None:
    """What moves predictive's gain: one seed each, events only, the campaign above with one
    thing changed."""
    base = campaign("predictive", days, 0.0)
    variants = {
        "as above": base,
        "50 agents": dataclasses.replace(base, agents=50),
        "talk mean 60 s (sd 40)": dataclasses.replace(base, calls=dataclasses.replace(
            base.calls, talk=Dist("lognormal", 60.0, 40.0))),
        "15 % human answer": dataclasses.replace(base, calls=dataclasses.replace(
            base.calls, human=0.15)),
        "cap 10 % (no rule set allows it)": dataclasses.replace(
            base, policy=dataclasses.replace(base.policy, max_abandon_rate=0.10)),
    }
    print(f"## What moves the gain ({days} days, seed 0, events only)\n")
    print("| campaign | progressive | predictive | gain | predictive abandoned |")
    print("|---|---:|---:|---:|---:|")
    for name, settings in variants.items():
        progressive = simulate(dataclasses.replace(
            settings, policy=dataclasses.replace(settings.policy, mode="progressive")), 0)
        predictive = simulate(settings, 0)
        gain = predictive.talk_utilisation / progressive.talk_utilisation - 1
        print(f"| {name} | {progressive.talk_utilisation:.1%} | "
              f"{predictive.talk_utilisation:.1%} | {gain:+.1%} | {predictive.abandon_rate:.2%} |",
              flush=True)
    print()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000, help="seeded predictive runs")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--what-if", action="store_true",
                        help="only the table of what moves the gain (a minute or two)")
    args = parser.parse_args()
    if args.what_if:
        what_if(args.days)
        return
    wall = time.perf_counter()

    print(f"## Side by side: 20 agents, {args.days} days of 8 h, seed 0\n")
    print(f"| run | talk utilisation | abandoned ({args.days} days) | worst day "
          "| contacts / agent h | dials | CPU s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    reports = side_by_side(args.days)
    for name, report in reports:
        print(f"| {name} | {report.talk_utilisation:.1%} | {report.abandon_rate:.2%} "
              f"| {max(report.daily_abandon_rates):.2%} | {report.contacts_per_agent_hour:.1f} "
              f"| {report.dials} | {report.cpu_seconds:.1f} |")
    progressive, predictive = reports[0][1], reports[1][1]
    gain = predictive.talk_utilisation / progressive.talk_utilisation - 1
    print(f"\npredictive's gain in talk-time utilisation: {gain:+.1%} (target +30 %)")
    print(f"predictive's passes by reason: {predictive.decisions}\n")

    print(f"## {args.runs} seeded predictive runs of {args.days} days ({args.workers} workers)\n",
          flush=True)
    started = time.perf_counter()
    jobs = [(seed, args.days) for seed in range(1, args.runs + 1)]
    with multiprocessing.Pool(args.workers) as pool:
        results = list(pool.imap_unordered(one_run, jobs, chunksize=4))
    seconds = time.perf_counter() - started
    rates = [rate for _, rate, _, _, _, _ in results]
    worst_days = [worst for _, _, worst, _, _, _ in results]
    utilisation = [util for _, _, _, util, _, _ in results]
    cpu = sum(run_cpu for _, _, _, _, run_cpu, _ in results)
    within = sum(rate <= CAP for rate in rates)
    print(f"{args.days}-day abandonment <= 3 %: {within} of {len(rates)} runs "
          f"({within / len(rates):.1%}; target >= 99 %)")
    print(f"{args.days}-day abandonment: median {statistics.median(rates):.2%}, p99 "
          f"{percentile(rates, 0.99):.2%}, max {max(rates):.2%}")
    print(f"worst single day of a run: median {statistics.median(worst_days):.2%}, max "
          f"{max(worst_days):.2%}; days over 3 %: "
          f"{sum(over for *_, over in results)} of {len(rates) * args.days}")
    print(f"talk utilisation: median {statistics.median(utilisation):.1%}, min "
          f"{min(utilisation):.1%}")
    print(f"CPU {cpu:.0f} s ({cpu / len(rates):.2f} s a run), wall {seconds:.0f} s\n")

    print("## decide() at 50 agents (median of 200 batches of 1,000 calls)\n")
    for name, micros in decide_cost().items():
        print(f"- {name}: {micros:.1f} us")
    print(f"\nwhole bench: {time.perf_counter() - wall:.0f} s wall")


if __name__ == "__main__":
    main()
