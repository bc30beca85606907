"""What a wallboard shows: per queue the live figures and the day's KPIs, the agents' table,
and each figure's colour by the thresholds of queues.yaml (config_wallboard.py).

Cheap on purpose: the live figures are the ACD's memory, the day's KPIs the interval
summaries' (intervals.py), nothing is read from the database; bench/wallboard.py measures it
with 500 callers waiting and 200 agents.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .agents import BUSY, AgentState
from .config import HIGHER_IS_WORSE
from .erlang import agents_for_service_level, traffic_erlangs
from .intervals import INTERVAL_S, kpis
from .reporting import SERVICE_GOAL, queue_view

if TYPE_CHECKING:
    from .engine import Acd

__all__ = ["intraday", "start_of_day", "wallboard"]


def start_of_day(now: float) -> float:
    """Midnight, local time: where "today" starts on a wallboard."""
    local = dt.datetime.fromtimestamp(now).astimezone()
    return local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def _occupancy(states: Iterable[AgentState]) -> float | None:
    """Agents busy (ringing, on a call, in wrap-up) of those staffed now (logged in, not
    paused): the live share, not kpi.py's time-weighted one."""
    states = list(states)
    busy = sum(1 for s in states if s in BUSY or s is AgentState.WRAP_UP)
    staffed = sum(1 for s in states if s not in (AgentState.LOGGED_OUT, AgentState.PAUSED))
    return round(busy / staffed, 3) if staffed else None


def wallboard(acd: Acd, now: float, *, queues: set[str] | None = None,
              since: float | None = None) -> dict[str, Any]:
    """The board for `queues` (None: all); the day's KPIs count from `since` (midnight)."""
    config = acd.config()
    since = start_of_day(now) if since is None else since
    day = acd.intervals.summary(since)
    rows: list[dict[str, Any]] = []
    shown_agents: set[str] = set()
    for queue in config.queues.values():
        if queues is not None and queue.name not in queues:
            continue
        view = queue_view(acd, queue)
        members = acd.members(queue)
        shown_agents.update(a.id for a in members)
        row: dict[str, Any] = {
            "name": queue.name, "waiting": len(view["waiting"]),
            "longest_wait_s": view["longest_wait_s"], "agents": view["agents"],
            "occupancy": _occupancy(a.state for a in members),
            "today": day.get(queue.name) or kpis(()),
            "service_level_s": queue.service_level,
        }
        figures = {"waiting": row["waiting"], "longest_wait_s": row["longest_wait_s"],
                   "service_level": row["today"]["service_level"],
                   "abandonment_rate": row["today"]["abandonment_rate"]}
        row["levels"] = {name: config.wallboard[name].level(value, HIGHER_IS_WORSE[name])
                         for name, value in figures.items() if name in config.wallboard}
        rows.append(row)
    agents = [{"id": a.id, "name": a.config.name, "state": a.state.value,
               "pause_reason": a.pause_reason or None,
               "in_state_s": round(max(0.0, now - a.state_since), 1)}
              for a in acd.agents.values() if queues is None or a.id in shown_agents]
    return {"at": now, "since": since, "queues": rows, "agents": agents,
            "thresholds": {name: {"amber": t.amber, "red": t.red,
                                  "higher_is_worse": HIGHER_IS_WORSE[name]}
                           for name, t in config.wallboard.items()}}


def intraday(acd: Acd, queue: str, since: float) -> list[dict[str, Any]]:
    """The queue's day by 15-minute interval, each with its KPIs and the staffing Erlang C
    gives for its traffic: the agents that would have met the goal (80 % within the queue's
    target) at that interval's offered calls and handle time."""
    found = acd.config().queues.get(queue)
    target = found.service_level if found is not None else 20.0
    rows = sorted((row for (name, start), row in acd.intervals.rows.items()
                   if name == queue and start >= since), key=lambda r: r.start)
    out = []
    for row in rows:
        figures = kpis((row,))
        aht = figures["average_handle_time_s"]
        needed = None
        if row.offered and isinstance(aht, float) and aht > 0:
            erlangs = traffic_erlangs(row.offered, INTERVAL_S, aht)
            needed = agents_for_service_level(erlangs, aht, target, SERVICE_GOAL)
        out.append({"start": row.start, **figures, "agents_for_goal": needed})
    return out
