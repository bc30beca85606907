"""A seeded discrete-event simulator of an outbound campaign, paced by the live `decide()`.

`simulate(campaign, seed)` runs `campaign.days` calling windows of `campaign.agents` agents on
an endless contact list: each dial is given an outcome and the times of its verdict by a
`random.Random(seed)` (so a seed is a run, exactly), events wait on one heap in time order, and
after every event and on every pacing tick the simulator builds a `PacingSnapshot` the way the
live dialler does and places the calls `decide()` asks for. An answered human (by the AMD's
verdict) is given a free agent at once, or waits up to `connect_seconds` (the 2-second rule)
for one to free up, or is abandoned: it hears the safe-harbor message and counts against the
cap. The report says what pacing is judged on: agents' talk-time utilisation, abandonment
(over the run and per day), contacts per agent hour, dials, and the CPU the run took.

Modelled: outcome shares, AMD errors both ways, carrier delay, ring and AMD times, talk and
wrap-up, the per-day window and the rolling stats the dialler measures. Not modelled (see
bench/README.md): inbound traffic, agents' breaks and logins, list exhaustion and retries,
time-of-day answer rates, callers who hang up while ringing an agent, trunk limits.
"""

from __future__ import annotations

import heapq
import math
import random
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from .pacing import PacingPolicy, PacingSnapshot, PacingStats, decide

__all__ = ["OUTCOMES", "CallModel", "Dist", "SimCampaign", "SimReport", "simulate"]

OUTCOMES = ("connected", "abandoned", "machine_connected", "machine_abandoned",
            "human_hung_up_as_machine", "machine", "busy", "no_answer", "failed")
"""Where every dial ends, exactly one each: a human (by the AMD) given an agent or abandoned,
the same for a machine the AMD took for a human, a human the AMD took for a machine (hung up),
and the calls no one answered."""


@dataclass(frozen=True, slots=True)
class Dist:
    """A distribution of seconds: fixed (a), uniform (a to b), exponential (mean a), lognormal
    (mean a, standard deviation b)."""

    kind: str
    a: float
    b: float = 0.0

    def sampler(self, rng: random.Random) -> Callable[[], float]:
        """A draw from this distribution with `rng`, built once (draws are the hot path)."""
        a, b = self.a, self.b
        if self.kind == "fixed":
            return lambda: a
        if self.kind == "uniform":
            uniform = rng.random
            return lambda: a + (b - a) * uniform()
        if self.kind == "exponential":
            draw = rng.expovariate
            return lambda: draw(1.0 / a)
        if self.kind == "lognormal":
            sigma = math.sqrt(math.log(1.0 + (b / a) ** 2))
            mu = math.log(a) - sigma * sigma / 2.0
            gauss, exp = rng.gauss, math.exp
            return lambda: exp(mu + sigma * gauss())
        raise ValueError(f"distribution {self.kind!r}: fixed, uniform, exponential or lognormal")


@dataclass(frozen=True, slots=True)
class CallModel:
    """What happens to a dial. The shares are of dials; no answer is the rest. Times are from
    the dial: carrier delay (to ringing), then ring, then the AMD's analysis."""

    human: float = 0.30
    machine: float = 0.15
    busy: float = 0.08
    failed: float = 0.05
    """Unallocated numbers, SIT tones, congestion."""
    machine_as_human: float = 0.05
    """Share of machines the AMD calls human: they reach an agent, or are abandoned."""
    human_as_machine: float = 0.03
    """Share of humans the AMD calls machine: hung up on (a lost contact, not counted by the
    dialler as answered)."""
    carrier_delay: Dist = Dist("uniform", 1.0, 4.0)
    human_ring: Dist = Dist("lognormal", 9.0, 5.0)
    machine_ring: Dist = Dist("uniform", 10.0, 22.0)
    no_answer_ring: Dist = Dist("uniform", 15.0, 25.0)
    busy_time: Dist = Dist("uniform", 0.5, 2.0)
    failed_time: Dist = Dist("uniform", 1.0, 3.0)
    amd_human: Dist = Dist("uniform", 2.5, 4.0)
    amd_machine: Dist = Dist("uniform", 3.0, 5.0)
    talk: Dist = Dist("lognormal", 180.0, 120.0)
    wrap_up: Dist = Dist("lognormal", 10.0, 5.0)
    machine_at_agent: Dist = Dist("uniform", 3.0, 8.0)
    """An agent's seconds on a machine the AMD called human (not talk time)."""

    def __post_init__(self) -> None:
        shares = (self.human, self.machine, self.busy, self.failed)
        if min(shares) < 0 or sum(shares) > 1:
            raise ValueError("outcome shares must be >= 0 and add up to at most 1")


@dataclass(frozen=True, slots=True)
class SimCampaign:
    policy: PacingPolicy
    agents: int = 20
    days: int = 30
    window_hours: float = 8.0
    """The calling window each day; calls in progress at its end run to their end."""
    calls: CallModel = field(default_factory=CallModel)
    connect_seconds: float = 2.0
    """A human with no agent this long after the AMD's verdict is abandoned."""
    tick_seconds: float = 1.0
    """The pacing loop's period (it also runs after every event); 0: on events only."""
    window_days: int = 30
    """The abandonment window of the stats `decide()` is given (30 days in the US)."""
    recent_attempts: int = 300
    """The answer rate's sample: the last attempts decided."""
    stats_seconds: float = 5.0
    """How often the measured stats are refreshed for `decide()` (a rolling figure over days
    and hundreds of attempts moves little in a few seconds; the snapshot's counts are live)."""


@dataclass(frozen=True, slots=True)
class SimReport:
    seed: int
    dials: int
    outcomes: dict[str, int]
    """Every dial once, by `OUTCOMES` (agentless: connected means to the campaign's flow)."""
    humans: int
    """Human verdicts (the AMD's), over the whole run."""
    abandoned: int
    talk_utilisation: float
    """Agents' talk seconds over their logged-in seconds (the window, and the minutes after it
    until the last call ends)."""
    abandon_rate: float
    """Abandoned over human-answered (the AMD's verdict, as the dialler counts), over the last
    `window_days` days of the run (all of it for a 30-day run)."""
    daily_abandon_rates: tuple[float, ...]
    contacts_per_agent_hour: float
    """Humans connected to an agent per logged-in agent hour."""
    decisions: dict[str, int]
    """decide()'s passes by reason."""
    cpu_seconds: float = field(compare=False)


# A dial's fate, as its index in OUTCOMES: a human verdict (0 human, 2 a machine taken for one)
# ends as that index if an agent takes it, or the next one if it is abandoned.
_HUMAN, _MACHINE_AS_HUMAN, _HUMAN_AS_MACHINE, _MACHINE, _BUSY, _NO_ANSWER, _FAILED = (
    0, 2, 4, 5, 6, 7, 8)
_VERDICT, _FREE, _EXPIRE, _TICK = range(4)
_DAY = 86_400.0


def simulate(campaign: SimCampaign, seed: int) -> SimReport:
    """Run the campaign with this seed: the same seed, the same report (but the CPU time).

    One function with its state in local variables, on purpose: the loop runs about ten
    thousand events a simulated day, and a 30-day run should take a second or two of CPU."""
    started = time.process_time()
    policy, model, agents = campaign.policy, campaign.calls, campaign.agents
    rng = random.Random(seed)
    rnd = rng.random
    carrier, human_ring, machine_ring, no_answer_ring, busy_time, failed_time, amd_human, \
        amd_machine, talk_time, wrap_up, machine_at_agent = (dist.sampler(rng) for dist in (
            model.carrier_delay, model.human_ring, model.machine_ring, model.no_answer_ring,
            model.busy_time, model.failed_time, model.amd_human, model.amd_machine,
            model.talk, model.wrap_up, model.machine_at_agent))
    human_share, machine_share = model.human, model.human + model.machine
    busy_share, failed_share = machine_share + model.busy, machine_share + model.busy + model.failed
    agentless = policy.mode == "agentless"
    tick, connect_seconds, window = (campaign.tick_seconds, campaign.connect_seconds,
                                     campaign.window_hours * 3600.0)
    days_kept, recent_kept, stats_seconds = (campaign.window_days, campaign.recent_attempts,
                                             campaign.stats_seconds)
    heap: list[tuple[float, int, int, int, float]] = []  # at, serial, kind, outcome, since
    push, pop = heapq.heappush, heapq.heappop
    serial = 0
    counts = [0] * len(OUTCOMES)
    reasons: Counter[str] = Counter()
    busy: dict[int, float] = {}  # serial of the agent's call -> busy since
    waiting: dict[int, int] = {}  # a human's serial -> outcome, oldest first
    recent: deque[bool] = deque()
    dialled: list[int] = []  # per day
    humans: list[int] = []
    abandoned: list[int] = []
    handle = answer = fail = 0.0  # sums of seconds
    handled = answered = failed = 0
    talk_seconds = logged_in = 0.0
    free, in_flight, recent_human = agents, 0, 0
    stats, stats_at = None, -math.inf

    for day in range(campaign.days):
        dialled.append(0)
        humans.append(0)
        abandoned.append(0)
        now = start = day * _DAY
        close = start + window
        if tick > 0:
            push(heap, (start + tick, 0, _TICK, 0, 0.0))
        changed = True
        while True:
            if changed and now < close:  # one pass of the pacing loop
                if stats is None or now - stats_at >= stats_seconds:
                    stats_at = now
                    stats = PacingStats(
                        dialled=sum(dialled[-days_kept:]), human_answered=sum(humans[-days_kept:]),
                        abandoned=sum(abandoned[-days_kept:]), recent_dialled=len(recent),
                        recent_human=recent_human,
                        mean_handle_time=handle / handled if handled else 0.0,
                        mean_time_to_answer=answer / answered if answered else 0.0,
                        mean_time_to_fail=fail / failed if failed else 0.0)
                decision = decide(policy, PacingSnapshot(
                    agents_logged_in=agents, agents_free=free,
                    agents_busy_since=tuple([now - since for since in busy.values()]),
                    calls_in_flight=in_flight, humans_waiting=len(waiting), inbound_waiting=0,
                    inbound_ringing=0, inbound_longest_wait=0.0, stats=stats))
                reasons[decision.reason] += 1
                for _ in range(decision.dial):  # the outcome and its moment, drawn now
                    share, after = rnd(), carrier()
                    if share < human_share:
                        outcome = _HUMAN_AS_MACHINE if rnd() < model.human_as_machine else _HUMAN
                        after += human_ring() + amd_human()
                    elif share < machine_share:
                        outcome = (_MACHINE_AS_HUMAN if rnd() < model.machine_as_human
                                   else _MACHINE)
                        after += machine_ring() + amd_machine()
                    elif share < busy_share:
                        outcome, after = _BUSY, after + busy_time()
                    elif share < failed_share:
                        outcome, after = _FAILED, after + failed_time()
                    else:
                        outcome, after = _NO_ANSWER, after + no_answer_ring()
                    serial += 1
                    push(heap, (now + after, serial, _VERDICT, outcome, now))
                in_flight += decision.dial
                dialled[-1] += decision.dial
            if not heap:
                break
            now, number, kind, outcome, since = pop(heap)
            changed = True
            connect = -1
            if kind == _VERDICT:
                in_flight -= 1
                human = outcome <= _MACHINE_AS_HUMAN
                recent.append(human)
                recent_human += human
                if len(recent) > recent_kept:
                    recent_human -= recent.popleft()
                if human:
                    answer += now - since
                    answered += 1
                    humans[-1] += 1
                    if agentless:  # the flow takes it: no agent, no wait
                        counts[outcome] += 1
                    elif free:
                        connect = outcome
                    else:
                        waiting[number] = outcome
                        push(heap, (now + connect_seconds, number, _EXPIRE, outcome, now))
                else:
                    fail += now - since
                    failed += 1
                    counts[outcome] += 1
            elif kind == _FREE:
                del busy[number]
                free += 1
                if waiting:
                    connect = waiting.pop(next(iter(waiting)))
            elif kind == _EXPIRE:
                if waiting.pop(number, None) is None:
                    changed = False  # an agent took that human in time: nothing happened
                else:  # the safe-harbor message; a machine taken for a human counts too
                    counts[outcome + 1] += 1
                    abandoned[-1] += 1
            elif now + tick < close:
                push(heap, (now + tick, 0, _TICK, 0, 0.0))
            if connect >= 0:  # a free agent takes this human (or machine) until its wrap-up ends
                free -= 1
                counts[connect] += 1
                if connect == _HUMAN:
                    talk = talk_time()
                    talk_seconds += talk
                    seconds = talk + wrap_up()
                else:
                    seconds = machine_at_agent()
                handle += seconds
                handled += 1
                serial += 1
                busy[serial] = now
                push(heap, (now + seconds, serial, _FREE, 0, now))
        logged_in += agents * (max(now, close) - start)
    if in_flight or waiting or free != agents:
        raise AssertionError("a day ended with calls or agents still busy")
    kept = sum(humans[-days_kept:])
    return SimReport(
        seed=seed, dials=sum(dialled), outcomes=dict(zip(OUTCOMES, counts, strict=True)),
        humans=sum(humans), abandoned=sum(abandoned),
        talk_utilisation=talk_seconds / logged_in if logged_in else 0.0,
        abandon_rate=sum(abandoned[-days_kept:]) / kept if kept else 0.0,
        daily_abandon_rates=tuple(a / h if h else 0.0 for a, h in zip(
            abandoned, humans, strict=True)),
        contacts_per_agent_hour=counts[0] * 3600.0 / logged_in if logged_in else 0.0,
        decisions=dict(sorted(reasons.items())),
        cpu_seconds=time.process_time() - started)
