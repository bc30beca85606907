"""What supervisors read: a queue's live view, its KPIs over a window, and an Erlang C view of
the same window (is the staffing right for the traffic the queue got?)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, TypedDict

from .agents import AgentState
from .config import QueueConfig
from .entries import EntryView
from .erlang import (
    agents_for_service_level,
    average_speed_of_answer,
    erlang_c,
    service_level,
    traffic_erlangs,
)
from .kpi import QueueKpis, compute_kpis
from .store import EntryState

if TYPE_CHECKING:
    from .engine import Acd

SERVICE_GOAL = 0.8
"""The service level goal staffing is sized for (80 % within the queue's service_level s)."""


class QueueView(TypedDict):
    """A queue as `GET /queues/{name}` shows it, live."""

    name: str
    strategy: str
    waiting: list[EntryView]
    """Callers and due callbacks not connected yet, in the order of service."""
    connected: list[EntryView]
    longest_wait_s: float
    agents: dict[str, int]
    """Members per agent state."""
    members: list[str]


def queue_view(acd: Acd, queue: QueueConfig) -> QueueView:
    now = acd.clock()
    sessions = sorted((s for s in acd.sessions.values() if s.queue.name == queue.name),
                      key=lambda s: s.order)
    waiting = [s for s in sessions if s.state is not EntryState.CONNECTED]
    members = acd.members(queue)
    return {
        "name": queue.name, "strategy": queue.strategy,
        "waiting": [s.view(now) for s in waiting],
        "connected": [s.view(now) for s in sessions if s.state is EntryState.CONNECTED],
        "longest_wait_s": max((round(now - s.entered_at, 1) for s in waiting), default=0.0),
        "agents": {state.value: sum(1 for a in members if a.state is state)
                   for state in AgentState},
        "members": [a.id for a in members],
    }


async def queue_kpis(acd: Acd, queue: str | None, since: float, until: float) -> QueueKpis:
    events = await acd.store.log_events(until=until, queue=queue)
    known = acd.config().queues.get(queue) if queue is not None else None
    level = known.service_level if known is not None else 20.0
    return compute_kpis(events, start=since, end=until, queue=queue, service_level_s=level)


def forecast(kpis: QueueKpis, staffed: int) -> dict[str, Any] | None:
    """Erlang C on the window's own traffic (offered calls, average handle time) and the
    agents staffed now: the service level and speed of answer to expect, and the agents the
    goal needs. None while the window has no handled call to take a handle time from."""
    aht = kpis.average_handle_time_s
    period = kpis.end - kpis.start
    if not aht or period <= 0 or kpis.offered == 0:
        return None
    erlangs = traffic_erlangs(kpis.offered, period, aht)
    asa = average_speed_of_answer(staffed, erlangs, aht) if staffed else math.inf
    return {
        "erlangs": round(erlangs, 3),
        "agents_staffed": staffed,
        "p_wait": round(erlang_c(staffed, erlangs), 4) if staffed else 1.0,
        "service_level": round(service_level(staffed, erlangs, aht, kpis.service_level_s), 4)
        if staffed else 0.0,
        "average_speed_of_answer_s": round(asa, 2) if math.isfinite(asa) else None,
        "agents_for_goal": agents_for_service_level(erlangs, aht, kpis.service_level_s,
                                                    SERVICE_GOAL),
        "goal": f"{SERVICE_GOAL:.0%} within {kpis.service_level_s:g} s",
    }
