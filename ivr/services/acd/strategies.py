"""Who to ring for a waiting caller: the queue's strategy as a pure ordering of free agents.

Kept free of state and IO so every rule is testable with plain data: the caller of ring_order
(the queue engine) decides who is free and remembers the last agent; this module only orders
and, for skills queues, filters. Ties always fall back to the agent id, so two runs over the
same state ring the same phones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .config import QueueConfig

__all__ = ["Candidate", "allowed_penalty", "ring_order"]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A free agent (available and registered) as the strategies see it."""

    agent_id: str
    idle_since: float
    """Epoch seconds the agent became available (wrap-up end, login or unpause)."""
    calls_taken: int
    """Calls answered in this queue this session (fewest_calls)."""
    penalty: int = 0
    """Strategy skills: the agent's penalty for the queue's skills (QueueConfig.penalty)."""


def allowed_penalty(queue: QueueConfig, wait_s: float) -> int | None:
    """The highest penalty that may be offered a caller who has waited `wait_s`; None = any.

    The last widen step with after <= wait_s applies; before the first step (the config
    requires it at 0, so only for hand-built configs) the first step's limit applies.
    """
    if not queue.widen:
        return None
    allowed = queue.widen[0].max_penalty
    for step in queue.widen:
        if step.after > wait_s:
            break
        allowed = step.max_penalty
    return allowed


def _idle(c: Candidate) -> tuple[float, str]:
    return (c.idle_since, c.agent_id)


def _member_order(queue: QueueConfig, candidates: Sequence[Candidate]) -> list[str]:
    """Candidates in member order; any that are not members (never dropped) last, by id."""
    ids = {c.agent_id for c in candidates}
    members = [m for m in queue.members if m in ids]
    return members + sorted(ids - set(members))


def _rotated(queue: QueueConfig, candidates: Sequence[Candidate], last: str | None) -> list[str]:
    members = list(queue.members)
    start = members.index(last) + 1 if last in members else 0
    rotated = members[start:] + members[:start]
    ids = {c.agent_id for c in candidates}
    return [m for m in rotated if m in ids] + sorted(ids - set(members))


def ring_order(queue: QueueConfig, candidates: Sequence[Candidate], *, wait_s: float,
               last_agent: str | None) -> list[tuple[str, ...]]:
    """Groups of agents to ring, in order; a group rings at once (only ring_all has more than one).

    `wait_s` is how long the caller has waited (skills widening); `last_agent` the agent that
    last took an offer in this queue (round_robin starts after it). A candidate given twice
    counts once (the first). No candidates, or none within the skills penalty: no groups.
    """
    first: dict[str, Candidate] = {}
    for candidate in candidates:
        first.setdefault(candidate.agent_id, candidate)
    unique = list(first.values())
    strategy = queue.strategy
    if strategy == "longest_idle":
        order = [c.agent_id for c in sorted(unique, key=_idle)]
    elif strategy == "fewest_calls":
        order = [c.agent_id for c in sorted(unique, key=lambda c: (c.calls_taken, *_idle(c)))]
    elif strategy == "round_robin":
        order = _rotated(queue, unique, last_agent)
    elif strategy == "ring_all":
        everyone = tuple(_member_order(queue, unique))
        return [everyone] if everyone else []
    elif strategy == "skills":
        limit = allowed_penalty(queue, wait_s)
        eligible = [c for c in unique if limit is None or c.penalty <= limit]
        order = [c.agent_id for c in sorted(eligible, key=lambda c: (c.penalty, *_idle(c)))]
    else:
        raise ValueError(f"unknown strategy {strategy!r}")
    return [(agent,) for agent in order]
