"""Contact-centre KPIs computed from a queue log, with the counting rules spelled out.

Events count by their own time in the half-open window [start, end), so consecutive windows
never count an event twice. A call that enters before the window and is answered inside it
counts as answered but not as offered; over windows much longer than a wait this evens out.

Short abandons: a caller who hangs up after waiting less than short_abandon_s most likely
dialled by mistake or changed their mind at once, not because the queue was slow, so those
calls are left out of both the service level and the abandonment rate:

    service level    = answered within service_level_s / (offered - short abandons)
    abandonment rate = abandons (not short)            / (offered - short abandons)

Occupancy is the share of agents' staffed time spent handling calls (talk from CONNECT to
COMPLETE*/TRANSFER, then after-call work), both clipped to the window. Staffed means logged in
(ADDMEMBER until REMOVEMEMBER) and not paused; time spent handling a call counts as staffed even
while paused or logged out (an agent may pause during wrap-up), so occupancy never exceeds 1.
Events before the window set each agent's state at its start, which is why callers pass all
events up to `end` and let this module do the filtering.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from .queue_log import (
    ABANDON,
    ACW,
    ADDMEMBER,
    COMPLETEAGENT,
    COMPLETECALLER,
    CONNECT,
    ENTERQUEUE,
    EXITEMPTY,
    EXITWITHKEY,
    EXITWITHTIMEOUT,
    NONE,
    PAUSE,
    REMOVEMEMBER,
    TRANSFER,
    UNPAUSE,
    QueueLogEvent,
)

_PAUSEALL, _UNPAUSEALL = "PAUSEALL", "UNPAUSEALL"
"""Asterisk's own app_queue logs these (queue "NONE") besides the per-queue PAUSE/UNPAUSE."""
_MEMBER_VERBS = frozenset({ADDMEMBER, REMOVEMEMBER, PAUSE, UNPAUSE, _PAUSEALL, _UNPAUSEALL})
_COMPLETIONS = frozenset({COMPLETECALLER, COMPLETEAGENT, TRANSFER})
CALLTIME_FIELD = {COMPLETECALLER: 1, COMPLETEAGENT: 1, TRANSFER: 3}
"""Where each completion verb keeps its talk time (data index); intervals.py reads them too."""
WAITTIME_FIELD = {ABANDON: 2, EXITWITHTIMEOUT: 2, EXITEMPTY: 2, EXITWITHKEY: 3}
"""Where each verb of a caller who left unanswered keeps its wait."""

Interval = tuple[float, float]


@dataclass(frozen=True, slots=True)
class QueueKpis:
    queue: str | None
    """None: all queues together."""
    start: float
    end: float
    offered: int
    answered: int
    abandoned: int
    short_abandoned: int
    timed_out: int
    exited_other: int
    """EXITEMPTY and EXITWITHKEY."""
    service_level_s: float
    short_abandon_s: float
    service_level: float | None
    average_speed_of_answer_s: float | None
    average_handle_time_s: float | None
    """Mean of calltime plus that call's ACW over calls completed or transferred in the window."""
    abandonment_rate: float | None
    occupancy: float | None
    longest_wait_s: float | None
    """Longest hold time of an answered call or wait of a caller who left unanswered."""

    def as_dict(self) -> dict[str, object]:
        """JSON-ready, with the counting rules as text so a report can show what it shows."""
        d: dict[str, object] = asdict(self)
        sl, sa = f"{self.service_level_s:g}", f"{self.short_abandon_s:g}"
        d["window_rule"] = "events count by their own time in [start, end)"
        d["short_abandon_rule"] = (
            f"an abandon after less than {sa} s of waiting is short: left out of "
            "service level and abandonment rate"
        )
        d["service_level_rule"] = f"answered within {sl} s / (offered - short abandons)"
        d["abandonment_rate_rule"] = "abandons (not short) / (offered - short abandons)"
        d["occupancy_rule"] = (
            "agent time handling calls (talk + after-call work) / agent staffed time "
            "(logged in and not paused, or handling a call), both clipped to the window"
        )
        return d


def event_number(e: QueueLogEvent, index: int) -> float | None:
    """A numeric data field, or None when an old or damaged line lacks it."""
    try:
        value = float(e.data[index])
    except (IndexError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _relevant(e: QueueLogEvent, queue: str | None) -> bool:
    if queue is None or e.queue == queue:
        return True
    return e.event in _MEMBER_VERBS and e.queue == NONE


def _covered(intervals: Iterable[Interval], start: float, end: float) -> float:
    """Length of the union of the intervals within [start, end)."""
    total, reach = 0.0, start
    for lo, hi in sorted(intervals):
        lo, hi = max(lo, reach), min(hi, end)
        if hi > lo:
            total += hi - lo
            reach = hi
    return total


@dataclass(slots=True)
class _Agents:
    """Staffed and handling intervals per agent, built by replaying events in time order."""

    paused: dict[tuple[str, str], bool] = field(default_factory=dict)
    """(agent, queue) -> paused, for every queue the agent is a member of."""
    staffed_since: dict[str, float] = field(default_factory=dict)
    staffed: dict[str, list[Interval]] = field(default_factory=dict)
    talking_since: dict[tuple[str, str], float] = field(default_factory=dict)
    """(call id, agent) -> CONNECT time, until the call completes."""
    handling: dict[str, list[Interval]] = field(default_factory=dict)

    def member_event(self, e: QueueLogEvent) -> None:
        agent = e.agent
        if e.event == ADDMEMBER:
            self.paused[agent, e.queue] = bool(e.data) and e.data[0] == "PAUSED"
        elif e.event == REMOVEMEMBER:
            self.paused.pop((agent, e.queue), None)
        else:
            pause = e.event in (PAUSE, _PAUSEALL)
            for key in self.paused:
                if key[0] == agent and e.queue in (NONE, key[1]):
                    self.paused[key] = pause
        now = any(not p for (a, _), p in self.paused.items() if a == agent)
        if now and agent not in self.staffed_since:
            self.staffed_since[agent] = e.time
        elif not now and agent in self.staffed_since:
            since = self.staffed_since.pop(agent)
            self.staffed.setdefault(agent, []).append((since, e.time))

    def connect(self, e: QueueLogEvent) -> None:
        self.talking_since[e.call_id, e.agent] = e.time

    def complete(self, e: QueueLogEvent, calltime: float | None) -> None:
        began = self.talking_since.pop((e.call_id, e.agent), None)
        if began is None:
            began = e.time - (calltime or 0.0)
        self.handling.setdefault(e.agent, []).append((began, e.time))

    def after_call_work(self, e: QueueLogEvent, seconds: float) -> None:
        self.handling.setdefault(e.agent, []).append((e.time - seconds, e.time))

    def occupancy(self, start: float, end: float) -> float | None:
        """Handling time over staffed time, with anything still open closed at end."""
        staffed = {a: list(v) for a, v in self.staffed.items()}
        handling = {a: list(v) for a, v in self.handling.items()}
        for agent, since in self.staffed_since.items():
            staffed.setdefault(agent, []).append((since, end))
        for (_, agent), since in self.talking_since.items():
            handling.setdefault(agent, []).append((since, end))
        busy_s = staffed_s = 0.0
        for agent in staffed.keys() | handling.keys():
            busy = handling.get(agent, [])
            busy_s += _covered(busy, start, end)
            staffed_s += _covered([*staffed.get(agent, []), *busy], start, end)
        return busy_s / staffed_s if staffed_s > 0 else None


def _ratio(part: int, whole: int) -> float | None:
    """At most 1: calls offered before the window but answered in it could otherwise push a
    short window's service level past 100 %."""
    return min(part / whole, 1.0) if whole > 0 else None


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def compute_kpis(
    events: Iterable[QueueLogEvent],
    *,
    start: float,
    end: float,
    queue: str | None = None,
    service_level_s: float = 20,
    short_abandon_s: float = 5,
) -> QueueKpis:
    """KPIs of one queue (or all when queue is None) over [start, end); see the module rules."""
    if end < start:
        raise ValueError("end must not be before start")
    relevant = (e for e in events if e.time < end and _relevant(e, queue))
    replay = sorted(relevant, key=lambda e: e.time)
    agents = _Agents()
    counts = dict.fromkeys((ENTERQUEUE, CONNECT, EXITWITHTIMEOUT, EXITEMPTY, EXITWITHKEY), 0)
    abandoned = short_abandoned = answered_in_time = 0
    holdtimes: list[float] = []
    waits: list[float] = []
    completed: list[tuple[QueueLogEvent, float]] = []
    acw: dict[tuple[str, str], float] = {}

    for e in replay:
        verb, inside = e.event, e.time >= start
        if verb in _MEMBER_VERBS:
            agents.member_event(e)
        elif verb == CONNECT:
            agents.connect(e)
        elif verb in _COMPLETIONS:
            calltime = event_number(e, CALLTIME_FIELD[verb])
            agents.complete(e, calltime)
            if inside and calltime is not None:
                completed.append((e, calltime))
        elif verb == ACW and (seconds := event_number(e, 0)) is not None:
            agents.after_call_work(e, seconds)
            acw[e.call_id, e.agent] = acw.get((e.call_id, e.agent), 0.0) + seconds
        if not inside:
            continue
        if verb in counts:
            counts[verb] += 1
        if verb == CONNECT and (hold := event_number(e, 0)) is not None:
            holdtimes.append(hold)
            waits.append(hold)
            answered_in_time += hold <= service_level_s
        elif verb in WAITTIME_FIELD:
            wait = event_number(e, WAITTIME_FIELD[verb])
            if wait is not None:
                waits.append(wait)
            if verb == ABANDON:
                if wait is not None and wait < short_abandon_s:
                    short_abandoned += 1
                else:
                    abandoned += 1

    offered = counts[ENTERQUEUE]
    considered = offered - short_abandoned
    handle_times = [t + acw.get((e.call_id, e.agent), 0.0) for e, t in completed]
    return QueueKpis(
        queue=queue,
        start=start,
        end=end,
        offered=offered,
        answered=counts[CONNECT],
        abandoned=abandoned,
        short_abandoned=short_abandoned,
        timed_out=counts[EXITWITHTIMEOUT],
        exited_other=counts[EXITEMPTY] + counts[EXITWITHKEY],
        service_level_s=service_level_s,
        short_abandon_s=short_abandon_s,
        service_level=_ratio(answered_in_time, considered),
        average_speed_of_answer_s=_mean(holdtimes),
        average_handle_time_s=_mean(handle_times),
        abandonment_rate=_ratio(abandoned, considered),
        occupancy=agents.occupancy(start, end),
        longest_wait_s=max(waits) if waits else None,
    )
