"""The dispatcher's pass: each waiting entry, best first, offered to the agents its queue's
strategy picks.

`Acd.dispatch()` runs it on every change and at least once a second. A pass is cheap when
nobody is free (the usual case while callers wait), asks Asterisk about each free agent's
phone at most once, and never offers an agent twice: the agents of an offer are reserved
(ringing) before the next entry is looked at.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from ...ari import AriClient, AriError
from .agents import Agent, AgentState
from .config import AcdConfig
from .entries import QueueEntry
from .store import EntryState
from .strategies import Candidate, ring_order


class Acd(Protocol):
    """What a pass needs of the ACD (engine.Acd), without importing the engine that runs it."""

    client: AriClient
    clock: Callable[[], float]
    agents: dict[str, Agent]
    sessions: dict[str, QueueEntry]
    last_agent: dict[str, str]

    async def reserve(self, agents: Sequence[Agent], call_id: str) -> None: ...

__all__ = ["RETRY_AFTER", "offer_waiting"]

RETRY_AFTER = 2.0
"""Seconds before agents who did not answer a caller are offered that caller again, once every
free agent has been tried (app_queue's `retry`)."""


async def _reachable(acd: Acd, agent: Agent, cache: dict[str, bool]) -> bool:
    """Registered and not on another call (a call the ACD did not give it)."""
    if agent.id not in cache:
        tech, _, resource = agent.config.endpoint.partition("/")
        try:
            endpoint = await acd.client.endpoints.get(tech, resource)
            cache[agent.id] = endpoint.state != "offline" and not endpoint.channel_ids
        except AriError:
            cache[agent.id] = False
    return cache[agent.id]


async def offer_waiting(acd: Acd, cfg: AcdConfig) -> None:
    reachable: dict[str, bool] = {}
    members: dict[str, list[Agent]] = {}
    now = acd.clock()
    for session in sorted(acd.sessions.values(), key=lambda s: s.order):
        if not any(a.state is AgentState.AVAILABLE for a in acd.agents.values()):
            return  # the usual pass while callers wait: nobody to offer them to
        if not session.offerable:
            continue
        queue = cfg.queues.get(session.queue.name)
        if queue is None:
            continue
        if queue.name not in members:
            ids = {a.id for a in cfg.agents_of(queue)}
            members[queue.name] = [a for a in acd.agents.values() if a.id in ids]
        free = [a for a in members[queue.name] if a.state is AgentState.AVAILABLE]
        free = [a for a in free if await _reachable(acd, a, reachable)]
        if not session.claims_agents:  # a customer-first callback dials the customer first
            dialling = sum(1 for s in acd.sessions.values() if s.queue.name == queue.name
                           and not s.claims_agents and s.state is EntryState.RINGING)
            if free and dialling < len(free):
                session.offer(())
            continue
        untried = [a for a in free if a.id not in session.tried]
        if not untried and free and now - session.last_try >= RETRY_AFTER:
            session.tried.clear()
            untried = free
        if not untried:
            continue
        candidates = [Candidate(a.id, a.idle_since, a.calls_taken,
                                queue.penalty(a.config) or 0) for a in untried]
        groups = ring_order(queue, candidates, wait_s=now - session.entered_at,
                            last_agent=acd.last_agent.get(queue.name))
        if not groups:
            continue
        group = [acd.agents[agent_id] for agent_id in groups[0]]
        await acd.reserve(group, session.id)
        if queue.strategy != "ring_all":
            acd.last_agent[queue.name] = group[0].id
        session.offer(group)
