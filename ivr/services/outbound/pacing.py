"""Pacing: how many calls a campaign places now. One pure function, `decide()`, with reasons.

The live dialler and the simulator (simulator.py) call the same `decide()` with a snapshot of
the moment, so what the benchmark measures is what runs. It is pure (no clock, no I/O): the
caller measures everything and passes it in, and a pass costs microseconds.

The rules, in order (each is a reason code):
- preview never dials: an agent takes a contact by hand.
- inbound has priority: while an inbound caller has waited longer than the limit, nothing is
  dialled, in any mode.
- agentless needs no agent: keep up to `max_channels` calls in flight.
- the agents usable for outbound are the free ones, less those reserved for inbound and those
  inbound callers are waiting for or ringing.
- progressive places one call per usable agent.
- predictive (with enough agents, under the abandon cap) places more: as many as keep the
  expected share of answered humans who find no agent (`expected_abandon_rate`) under an
  allowance that shrinks to nothing as the measured rate nears the cap, never more than
  `max_dial_ratio` calls in flight per usable agent, never fewer than progressive would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["MODES", "Decision", "PacingPolicy", "PacingSnapshot", "PacingStats",
           "abandon_allowance", "answer_rate", "decide", "expected_abandon_rate",
           "expected_free_agents"]

MODES = ("preview", "progressive", "predictive", "agentless")

PRIOR_ATTEMPTS = 20.0
"""The answer rate starts as if the campaign's first 20 attempts had all been answered by
humans: with no history predictive dials one call per agent, and it takes real attempts to
believe in a low answer rate (which is what makes it dial harder)."""

TARGET_SHARE = 0.8
"""Predictive aims its expected abandonment at this share of the cap (2.4 % of 3 %). The
allowance falls from there to nothing at the cap itself, so the measured rate, which the
dialler feeds back, settles under the cap with room for chance and for a model that is wrong.
Tuned in the simulator (bench/README.md): the estimate is pessimistic there, and the 30-day
rate settles near 2.2 %; at 0.9 it is 2.5 % for a third of a point more of utilisation."""

ALLOWANCE_CEILING = 2.0
"""Below the target the allowance grows, but never past twice the cap: the estimate is the
simulator's best (it expects about twice the abandonment the simulator then measures), not a
promise. At 1.0 the 30-day rate settled at 1.7 %, half a point of utilisation lower."""


@dataclass(frozen=True, slots=True)
class PacingPolicy:
    """A campaign's pacing settings (campaign.py's `Pacing`, with the rule set's abandon cap)."""

    mode: str
    """preview | progressive | predictive | agentless"""
    max_abandon_rate: float = 0.03
    """Cap on abandoned / human-answered calls over the rule set's window (30 days in the US)."""
    min_predictive_agents: int = 15
    """With fewer agents logged in, predictive behaves as progressive: a small team's agents
    free up too rarely for a forecast to be worth an abandoned call."""
    max_dial_ratio: float = 3.0
    """Calls in flight per usable agent, at most."""
    reserve_inbound: int = 0
    """Agents kept free for inbound, never used for outbound."""
    inbound_wait_limit: float = 30.0
    """Seconds: while an inbound caller has waited longer, dial nothing."""
    max_channels: int = 0
    """Calls in flight at most (agentless: the only limit; 0 = none beyond the agents rule, and
    an agentless campaign with 0 dials nothing)."""

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"pacing mode {self.mode!r}: one of {', '.join(MODES)}")
        if self.max_dial_ratio < 1:
            raise ValueError("max_dial_ratio below 1 would dial less than progressive")
        if not 0 < self.max_abandon_rate < 1:
            raise ValueError("max_abandon_rate is a share: above 0, below 1")


@dataclass(frozen=True, slots=True)
class PacingStats:
    """What the dialler has measured for this campaign (rolling)."""

    dialled: int
    """Calls placed over the abandonment window."""
    human_answered: int
    """Of those, answered by a human (the AMD's verdict)."""
    abandoned: int
    """Humans given no agent within the connect time (they heard the safe-harbor message)."""
    recent_dialled: int
    """The last attempts decided (the answer rate's sample)..."""
    recent_human: int
    """... and how many of them a human answered."""
    mean_handle_time: float
    """Seconds of talk and wrap-up per connected call (0: not known yet)."""
    mean_time_to_answer: float
    """Seconds from dial to a human verdict (ring and AMD), for calls a human answered."""
    mean_time_to_fail: float
    """Seconds from dial to a no-answer, busy or machine verdict."""


@dataclass(frozen=True, slots=True)
class PacingSnapshot:
    """The moment of one decision."""

    agents_logged_in: int
    """Agents serving the campaign (logged in, not paused)."""
    agents_free: int
    """Of those, idle and not reserved."""
    agents_busy_since: tuple[float, ...]
    """For each busy agent (talking or in wrap-up), seconds it has been busy."""
    calls_in_flight: int
    """Outbound calls dialled and not yet decided."""
    humans_waiting: int
    """Answered humans not yet given an agent."""
    inbound_waiting: int
    inbound_ringing: int
    inbound_longest_wait: float
    """Inbound callers in the queues these agents serve: how many wait, are ringing an agent,
    and the longest wait (seconds)."""
    stats: PacingStats


@dataclass(frozen=True, slots=True)
class Decision:
    dial: int
    """How many calls to place now (>= 0)."""
    reason: str
    """preview, inbound_waiting, agentless, no_channels, max_channels, no_free_agent,
    reserved_for_inbound, in_flight_enough, progressive, few_agents, abandon_cap,
    abandon_backoff, predictive."""
    ratio: float
    """Calls in flight per usable agent after this decision (1.0 for progressive; agentless:
    calls in flight over max_channels)."""


def decide(policy: PacingPolicy, snapshot: PacingSnapshot) -> Decision:
    """How many calls to place now, and why (the module's docstring has the rules)."""
    if policy.mode == "preview":
        return Decision(0, "preview", 0.0)
    if snapshot.inbound_longest_wait > policy.inbound_wait_limit:
        return Decision(0, "inbound_waiting", 0.0)
    in_flight = snapshot.calls_in_flight
    if policy.mode == "agentless":
        if policy.max_channels <= 0:
            return Decision(0, "no_channels", 0.0)
        dial = max(0, policy.max_channels - in_flight)
        return Decision(dial, "agentless", (in_flight + dial) / policy.max_channels)
    held_for_inbound = policy.reserve_inbound + snapshot.inbound_waiting + snapshot.inbound_ringing
    usable = max(0, snapshot.agents_free - held_for_inbound)
    if usable == 0:
        reason = "reserved_for_inbound" if snapshot.agents_free > 0 else "no_free_agent"
        return Decision(0, reason, 0.0)
    committed = in_flight + snapshot.humans_waiting
    progressive = usable - committed
    if policy.mode == "progressive":
        return _bounded(policy, snapshot, progressive, "progressive", usable)
    if snapshot.agents_logged_in < policy.min_predictive_agents:
        return _bounded(policy, snapshot, progressive, "few_agents", usable)
    stats = snapshot.stats
    measured = stats.abandoned / stats.human_answered if stats.human_answered else 0.0
    if measured >= policy.max_abandon_rate:
        return _bounded(policy, snapshot, progressive, "abandon_cap", usable)
    most = math.floor(policy.max_dial_ratio * usable + 1e-9) - committed
    if most <= max(progressive, 0):
        return _bounded(policy, snapshot, progressive, "predictive", usable)
    allowance = abandon_allowance(policy.max_abandon_rate, measured)
    reason = "abandon_backoff" if allowance < TARGET_SHARE * policy.max_abandon_rate else (
        "predictive")
    rate = answer_rate(stats)
    free_soon, free_soon_var = expected_free_agents(
        snapshot.agents_busy_since, stats.mean_handle_time, stats.mean_time_to_answer)
    agents = usable - snapshot.humans_waiting + free_soon
    # The largest number of calls in flight whose expected abandonment is within the allowance
    # (it grows with every call added): a binary search between progressive's and the cap.
    low, high = max(progressive, 0), most
    while low < high:
        middle = (low + high + 1) // 2
        if expected_abandon_rate(in_flight + middle, rate, agents, free_soon_var) <= allowance:
            low = middle
        else:
            high = middle - 1
    return _bounded(policy, snapshot, low, reason, usable)


def _bounded(policy: PacingPolicy, snapshot: PacingSnapshot, dial: int, reason: str,
             usable: int) -> Decision:
    """The decision, never below 0 nor over `max_channels` calls in flight. A pass that places
    nothing says "in_flight_enough", unless its reason is a state the supervisor should see
    (few_agents, abandon_cap)."""
    in_flight = snapshot.calls_in_flight
    if policy.max_channels > 0 and in_flight + dial > policy.max_channels:
        dial, reason = policy.max_channels - in_flight, "max_channels"
    if dial <= 0:
        dial = 0
        if reason not in ("few_agents", "abandon_cap", "max_channels"):
            reason = "in_flight_enough"
    if reason in ("progressive", "few_agents", "abandon_cap"):
        return Decision(dial, reason, 1.0)
    return Decision(dial, reason, (in_flight + snapshot.humans_waiting + dial) / usable)


def answer_rate(stats: PacingStats) -> float:
    """The share of attempts a human answers, from the recent attempts, shrunk towards 1 (the
    prior of `PRIOR_ATTEMPTS`, all human) when there are few: a new campaign starts at one call
    per agent and dials harder only as its attempts show how few are answered."""
    return (stats.recent_human + PRIOR_ATTEMPTS) / (stats.recent_dialled + PRIOR_ATTEMPTS)


def expected_free_agents(busy_since: tuple[float, ...], mean_handle_time: float,
                         horizon: float) -> tuple[float, float]:
    """How many busy agents are expected to be free within `horizon` seconds (about the time
    a call dialled now takes to reach a human), and the variance of that count.

    Handle times are taken as exponential of the measured mean, so each busy agent frees
    within h with probability 1 - exp(-h / mean) whatever it has been busy for. Shapes that
    use the elapsed times were tried in the simulator: an Erlang-2 (an agent just connected is
    unlikely to free soon) and even a lognormal of the simulated calls' true shape; at 20 agents
    neither moved utilisation or abandonment by more than the noise between seeds, because what
    limits pacing is how many humans a dial yields and when, not when agents free. So the
    estimate that costs nothing per agent. Nothing is expected before the mean is known."""
    if mean_handle_time <= 0 or horizon <= 0 or not busy_since:
        return 0.0, 0.0
    free = -math.expm1(-horizon / mean_handle_time)
    busy = len(busy_since)
    return busy * free, busy * free * (1.0 - free)


def expected_abandon_rate(calls: int, answer: float, agents: float, agents_var: float) -> float:
    """The expected share of the humans `calls` yield who find no agent, when `agents` (a mean,
    with variance `agents_var`) will be there for them: E[max(0, H - A)] / E[H], H the humans
    (binomial), by the normal approximation of H - A.

    It counts agents and humans over the same stretch and ignores who comes first, so it is
    optimistic; the measured abandonment, fed back through `abandon_allowance`, corrects it."""
    humans = calls * answer
    if humans <= 0:
        return 0.0
    mean = humans - agents
    spread = math.sqrt(calls * answer * (1.0 - answer) + agents_var)
    if spread <= 0:
        return max(0.0, mean) / humans
    z = mean / spread
    density = math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    below = 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))
    return max(0.0, spread * density + mean * below) / humans


def abandon_allowance(cap: float, measured: float) -> float:
    """The expected abandonment predictive may risk on the next calls: `TARGET_SHARE` of the
    cap while the measured rate is there, more below it (to spend what a quiet period left, up
    to `ALLOWANCE_CEILING` times the cap), falling linearly to nothing at the cap."""
    target = TARGET_SHARE * cap
    return max(0.0, min(ALLOWANCE_CEILING * cap, target * (cap - measured) / (cap - target)))
