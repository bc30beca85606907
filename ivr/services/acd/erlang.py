"""Erlang C queue arithmetic: staffing hints, service-level forecasts and wait announcements.

Erlang C models a queue as M/M/N: Poisson arrivals, exponential handle times, N agents and
callers who never give up. Real callers do abandon, so the forecasts are a little pessimistic,
which is the safe side for staffing. All times are in seconds; traffic is in Erlangs (the
number of agents the offered work would keep busy all the time).
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def traffic_erlangs(calls: float, period_s: float, aht_s: float) -> float:
    """Offered traffic: the agent-seconds of work arriving per second of the period."""
    if period_s <= 0:
        raise ValueError("period_s must be positive")
    if calls < 0 or aht_s < 0:
        raise ValueError("calls and aht_s must not be negative")
    return calls * aht_s / period_s


def _check(agents: int, erlangs: float) -> None:
    if agents < 0:
        raise ValueError("agents must not be negative")
    if erlangs < 0:
        raise ValueError("erlangs must not be negative")


def erlang_c(agents: int, erlangs: float) -> float:
    """Probability that a caller has to wait (P(wait)).

    Goes through the Erlang B recursion, which only ever multiplies and divides numbers near 1,
    instead of the textbook formula whose A**N / N! overflows for large centres.
    """
    _check(agents, erlangs)
    if erlangs >= agents:
        return 1.0
    if erlangs == 0:
        return 0.0
    blocking = 1.0
    for n in range(1, agents + 1):
        blocking = erlangs * blocking / (n + erlangs * blocking)
    return agents * blocking / (agents - erlangs * (1.0 - blocking))


def service_level(agents: int, erlangs: float, aht_s: float, target_s: float) -> float:
    """Fraction of callers answered within target_s; 0.0 when the queue grows without end."""
    if aht_s <= 0:
        raise ValueError("aht_s must be positive")
    if erlangs >= agents:
        _check(agents, erlangs)
        return 0.0
    waiting = erlang_c(agents, erlangs)
    if waiting == 0.0:
        return 1.0
    return 1.0 - waiting * math.exp(-(agents - erlangs) * target_s / aht_s)


def average_speed_of_answer(agents: int, erlangs: float, aht_s: float) -> float:
    """Mean wait over all callers (those answered at once count as 0); inf when overloaded."""
    if erlangs >= agents:
        _check(agents, erlangs)
        return math.inf
    return erlang_c(agents, erlangs) * aht_s / (agents - erlangs)


def agents_for_service_level(erlangs: float, aht_s: float, target_s: float, goal: float) -> int:
    """Smallest number of agents whose forecast service level reaches goal (e.g. 0.8).

    0 when there is no traffic. A goal of 1.0 is never reached (some caller always waits a
    little in M/M/N), so it is refused rather than looped on.
    """
    if not 0.0 <= goal < 1.0:
        raise ValueError("goal must be in [0, 1)")
    _check(0, erlangs)
    if erlangs == 0:
        return 0
    agents = math.floor(erlangs) + 1
    while service_level(agents, erlangs, aht_s, target_s) < goal:
        agents += 1
    return agents


def estimate_wait(
    position: int,
    staffed: int,
    free: int,
    handle_times: Sequence[float],
    *,
    min_samples: int = 3,
) -> float | None:
    """Expected wait in seconds for the caller at queue position `position` (1 = next).

    The free agents take the first `free` callers; after that every staffed agent is busy and
    the caller needs (position - free) more calls to end. With exponential handle times a busy
    agent's remaining time does not depend on how long the call has lasted, so with N agents
    busy the next departure comes after AHT/N on average, whichever agent it is. That gives
    (position - free) * AHT / N: Erlang's M/M/N assumptions applied to what is known about
    this caller now, rather than the unconditional Erlang C ASA averaged over all arrivals.
    handle_times should include wrap-up, since an agent in wrap-up takes no call.

    None when the figure would be a guess: no agent staffed (nobody will answer) or, unless an
    agent is free for this caller, fewer than min_samples recent handle times to average.
    """
    if position < 1:
        raise ValueError("position starts at 1")
    if staffed <= 0:
        return None
    if free >= position:
        return 0.0
    if len(handle_times) < max(min_samples, 1):
        return None
    aht = sum(handle_times) / len(handle_times)
    return (position - max(free, 0)) * aht / staffed


def announceable_minutes(
    estimate_s: float | None, *, min_s: float = 60, cap_minutes: int = 30
) -> int | None:
    """Whole minutes worth announcing for an estimated wait, rounded up.

    None when there is no estimate or it is under min_s: "less than a minute" is not worth
    the caller's time. Returns cap_minutes itself for anything that rounds up to it or beyond
    (so for estimates over cap_minutes - 1 minutes); the announcer then says "more than
    cap_minutes minutes" rather than a precise-sounding number.
    """
    if estimate_s is None or estimate_s < min_s:
        return None
    return min(math.ceil(estimate_s / 60), cap_minutes)
