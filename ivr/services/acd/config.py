"""ACD configuration: agents, queues, pause reasons and wrap-up dispositions as YAML data
(flows/queues.yaml).

Queues change more often than code (a new agent, a longer wrap-up), so they are data that
operations staff edit, `ivr check` validates and the service reloads like a flow. This module is
the data model: the dataclasses below are the file format, and their defaults are the defaults
of an absent field. Reading and validating the YAML is in config_reader (parse_acd_config,
load_acd_config).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ...flow.loader import FlowErrorDetail

__all__ = ["CALLBACK_MODES", "DEFAULT_DISPOSITIONS", "EMPTY", "STRATEGIES", "AcdConfig",
           "AgentConfig", "Announce", "CallbackPolicy", "QueueConfig", "Widen"]

STRATEGIES = ("longest_idle", "round_robin", "fewest_calls", "ring_all", "skills")
CALLBACK_MODES = ("agent_first", "customer_first")
DEFAULT_DISPOSITIONS: Mapping[str, str] = {
    "resolved": "Resolved",
    "follow_up": "Needs a follow-up",
    "callback": "Callback promised",
    "transferred": "Transferred",
    "complaint": "Complaint",
    "wrong_number": "Wrong number",
    "sale": "Sale",
    "do_not_call": "Do not call again",
    "other": "Other",
}
"""Wrap-up code -> label, in the order the desktop offers them, for a file without a
`dispositions:` block (and for the console while the ACD does not run)."""


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """A person who takes calls; `endpoint` (TECH/resource) is the phone rung for them."""

    id: str
    name: str
    endpoint: str
    skills: Mapping[str, int] = field(default_factory=dict)
    """Skill -> penalty 0..9; lower is better (offered first by a skills queue)."""


@dataclass(frozen=True, slots=True)
class Announce:
    """What a waiting caller hears between music, in seconds since joining; every 0 = once."""

    first: float = 15.0
    every: float = 30.0
    position: bool = True
    wait: bool = True
    join: tuple[str, ...] = ()
    """Prompt ids played once on joining when no agent is free at once ("all our agents are
    busy... press 1 for a message")."""
    prompts: tuple[str, ...] = ()
    """Prompt ids played after position and wait at every announcement."""


@dataclass(frozen=True, slots=True)
class Widen:
    """From `after` seconds of waiting on, agents up to `max_penalty` may be offered the call."""

    after: float
    max_penalty: int


@dataclass(frozen=True, slots=True)
class CallbackPolicy:
    """How a queue keeps its callback promises (services/callback)."""

    mode: str = "agent_first"
    """agent_first: the agent answers and hears who is called, then the customer's phone
    rings. customer_first: the customer answers, hears whose callback it is, then waits at the
    head of the queue."""
    attempts: int = 3
    """Dials at most, counting the first."""
    retry: tuple[float, ...] = (120.0, 600.0)
    """Seconds after a failed attempt before the next; the last value repeats."""
    ring_timeout: float = 30.0
    expire_after: float = 86400.0
    """Seconds after the request (or its scheduled time) when an unserved callback expires."""
    window: tuple[str, str] = ("09:00", "20:00")
    """Hours the customer may be called, in the customer's time zone; equal ends: all day."""
    timezone: str = "Asia/Seoul"
    timezones: Mapping[str, str] = field(default_factory=dict)
    """Number prefix -> time zone; the longest match wins, else `timezone`."""
    caller_id: str = ""
    """What the customer's phone shows, e.g. '"Example Bank" <15880000>'."""


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """One queue. The defaults here are the defaults of the file format."""

    name: str
    strategy: str = "longest_idle"
    members: tuple[str, ...] = ()
    """Agent ids, for every strategy but skills; round_robin and ring_all keep this order."""
    skills: tuple[str, ...] = ()
    """Strategy skills: an agent needs all of them; its penalty is the worst of its penalties."""
    widen: tuple[Widen, ...] = ()
    """Strategy skills: sorted by `after`, the first at 0; empty = any penalty from the start."""
    priority: int = 0
    moh: str = "default"
    announce: Announce = Announce()
    ring_timeout: float = 15.0
    wrapup: float = 10.0
    auto_pause_after: int = 3
    """Unanswered offers in a row that pause the agent; 0 = never."""
    max_wait: float | None = None
    max_length: int | None = None
    join_empty: bool = False
    keys: Mapping[str, str] = field(default_factory=dict)
    """DTMF key -> outcome: the caller leaves the queue with that outcome."""
    service_level: float = 20.0
    transfer_code: str | None = None
    callback: CallbackPolicy = CallbackPolicy()
    dispositions: tuple[str, ...] = ()
    """The wrap-up codes (of the top-level `dispositions`) that fit this queue's calls, in the
    order offered; empty = every code."""

    def outcomes(self) -> frozenset[str]:
        """The ways a wait can end besides being answered (what a flow's queue node routes)."""
        found = set(self.keys.values())
        if self.max_wait is not None:
            found.add("timeout")
        if self.max_length is not None:
            found.add("full")
        if not self.join_empty:
            found.add("no_agents")
        return frozenset(found)

    def penalty(self, agent: AgentConfig) -> int | None:
        """The agent's penalty for this queue's skills (the worst one); None if one is missing."""
        if not all(skill in agent.skills for skill in self.skills):
            return None
        return max((agent.skills[skill] for skill in self.skills), default=0)


@dataclass(frozen=True, slots=True)
class Threshold:
    """Where a wallboard figure turns amber, and red."""

    amber: float
    red: float

    def level(self, value: float | None, higher_is_worse: bool) -> str:
        """"green", "amber", "red", or "none" for a figure not known yet."""
        if value is None:
            return "none"
        if higher_is_worse:
            return "red" if value >= self.red else "amber" if value >= self.amber else "green"
        return "red" if value <= self.red else "amber" if value <= self.amber else "green"


HIGHER_IS_WORSE = {"longest_wait_s": True, "service_level": False, "abandonment_rate": True,
                   "waiting": True}
DEFAULT_THRESHOLDS: Mapping[str, Threshold] = {
    "longest_wait_s": Threshold(30, 60), "service_level": Threshold(0.8, 0.6),
    "abandonment_rate": Threshold(0.05, 0.1), "waiting": Threshold(3, 10)}


@dataclass(frozen=True, slots=True)
class AcdConfig:
    """Everything the ACD serves; a reload builds a new one and swaps it in."""

    agents: Mapping[str, AgentConfig]
    queues: Mapping[str, QueueConfig]
    pause_reasons: Mapping[str, str]
    """Code dialled after *73 -> reason text."""
    warnings: tuple[FlowErrorDetail, ...] = ()
    wallboard: Mapping[str, Threshold] = field(default_factory=lambda: DEFAULT_THRESHOLDS)
    """Figure -> its wallboard colours (config_wallboard.py reads the file's block)."""
    dispositions: Mapping[str, str] = field(default_factory=lambda: DEFAULT_DISPOSITIONS)
    """Wrap-up code -> label, in the order offered (config_dispositions.py reads the block)."""

    def agents_of(self, queue: QueueConfig) -> list[AgentConfig]:
        """The queue's members in member order, or (skills) every agent with all its skills."""
        if queue.strategy == "skills":
            return [a for a in self.agents.values() if queue.penalty(a) is not None]
        return [self.agents[m] for m in queue.members if m in self.agents]

    def dispositions_of(self, queue: str | None) -> Mapping[str, str]:
        """The codes an agent may give a call of `queue`: its list, or every code when the
        queue has none, is not known (None) or is gone since the call joined it (a reload)."""
        config = self.queues.get(queue) if queue is not None else None
        if config is None or not config.dispositions:
            return self.dispositions
        return {c: self.dispositions[c] for c in config.dispositions if c in self.dispositions}

    def queue_by_transfer_code(self, code: str) -> QueueConfig | None:
        return next((q for q in self.queues.values() if q.transfer_code == code), None)

    def agent_by_endpoint(self, endpoint: str) -> AgentConfig | None:
        return next((a for a in self.agents.values() if a.endpoint == endpoint), None)


EMPTY = AcdConfig({}, {}, {})
"""For a project without a queues.yaml: no agents, no queues."""
