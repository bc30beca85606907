"""Per-interval KPI summaries, kept as queue_log events arrive, so a wallboard never re-reads
a day of the queue log (that takes ~1 s for a busy day, bench/README.md).

Each queue has a row per 15-minute interval (`acd_intervals`) of counts and sums; the KPIs of
any run of intervals are sums and ratios of them. The counting rules are kpi.py's, with two
differences that come from counting as events happen:
- a call's after-call work (ACW) counts in the interval where the ACW ends, not in the one
  where its call completed (AHT over a day is the same; over one interval it can differ);
- a call counts as answered within the service level by the queue's target at the time.
Occupancy is not summed here: the wallboard shows it live, from the agents' states.

The rows are written in the same database call as the events (an upsert that adds), and the
day's rows are kept in memory, so a refresh costs a sum over at most 96 rows per queue.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from ..db import Database
from .kpi import CALLTIME_FIELD, WAITTIME_FIELD, event_number
from .queue_log import (
    ABANDON,
    ACW,
    CONNECT,
    ENTERQUEUE,
    EXITWITHTIMEOUT,
    NONE,
    QueueLogEvent,
)

INTERVAL_S = 900
KEPT_INTERVALS_S = 2 * 86400
"""How far back the rows are kept in memory (today's, whatever the time zone)."""
SHORT_ABANDON_S = 5.0
_COUNTS = ("offered", "answered", "answered_in_time", "abandoned", "short_abandoned",
           "timed_out", "exited_other", "handled")
_SUMS = ("hold_sum", "handle_sum")


@dataclass
class Interval:
    queue: str
    start: float
    offered: int = 0
    answered: int = 0
    answered_in_time: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    timed_out: int = 0
    exited_other: int = 0
    handled: int = 0
    """Calls completed or transferred (their talk time is in handle_sum)."""
    hold_sum: float = 0.0
    """Seconds waited by the calls answered (for the ASA)."""
    handle_sum: float = 0.0
    """Talk time of the calls handled plus after-call work (for the AHT)."""
    longest_wait: float = 0.0

    def add(self, other: Interval) -> None:
        for name in (*_COUNTS, *_SUMS):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.longest_wait = max(self.longest_wait, other.longest_wait)


def bucket(when: float) -> float:
    return when - when % INTERVAL_S


def fold(event: QueueLogEvent, service_level_s: float) -> Interval | None:
    """What one event adds to its queue's interval (None: nothing, e.g. a member event)."""
    if event.queue == NONE:
        return None
    part = Interval(event.queue, bucket(event.time))
    verb = event.event
    if verb == ENTERQUEUE:
        part.offered = 1
    elif verb == CONNECT:
        hold = event_number(event, 0)
        part.answered = 1
        if hold is not None:
            part.hold_sum, part.longest_wait = hold, hold
            part.answered_in_time = int(hold <= service_level_s)
    elif verb in CALLTIME_FIELD:
        talk = event_number(event, CALLTIME_FIELD[verb])
        if talk is None:
            return None
        part.handled, part.handle_sum = 1, talk
    elif verb == ACW:
        seconds = event_number(event, 0)
        if seconds is None:
            return None
        part.handle_sum = seconds
    elif verb in WAITTIME_FIELD:
        wait = event_number(event, WAITTIME_FIELD[verb])
        part.longest_wait = wait or 0.0
        if verb == ABANDON:
            if wait is not None and wait < SHORT_ABANDON_S:
                part.short_abandoned = 1
            else:
                part.abandoned = 1
        elif verb == EXITWITHTIMEOUT:
            part.timed_out = 1
        else:
            part.exited_other = 1
    else:
        return None
    return part


def fold_all(events: Iterable[QueueLogEvent],
             service_level: Callable[[str], float]) -> dict[tuple[str, float], Interval]:
    out: dict[tuple[str, float], Interval] = {}
    for event in events:
        part = fold(event, service_level(event.queue))
        if part is None:
            continue
        key = (part.queue, part.start)
        if key in out:
            out[key].add(part)
        else:
            out[key] = part
    return out


def kpis(rows: Iterable[Interval]) -> dict[str, float | int | None]:
    """The KPIs of a run of intervals (kpi.py's formulas over the summed counts)."""
    total = Interval("", 0.0)
    for row in rows:
        total.add(row)
    considered = total.offered - total.short_abandoned

    def ratio(part: int) -> float | None:
        return min(part / considered, 1.0) if considered > 0 else None

    return {
        "offered": total.offered, "answered": total.answered, "abandoned": total.abandoned,
        "short_abandoned": total.short_abandoned, "timed_out": total.timed_out,
        "exited_other": total.exited_other,
        "service_level": ratio(total.answered_in_time),
        "abandonment_rate": ratio(total.abandoned),
        "average_speed_of_answer_s": total.hold_sum / total.answered if total.answered
        else None,
        "average_handle_time_s": total.handle_sum / total.handled if total.handled else None,
        "longest_wait_s": total.longest_wait if total.offered or total.answered else None,
    }


_COLUMNS = ("queue", "start", *_COUNTS, *_SUMS, "longest_wait")


class IntervalSummaries:
    """The rows in the database and today's in memory; `add` keeps both in step."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.rows: dict[tuple[str, float], Interval] = {}

    async def load(self, since: float) -> None:
        found = await self.db.fetch_all(
            f"SELECT {', '.join(_COLUMNS)} FROM acd_intervals WHERE start >= ?", float(since))
        self.rows = {(r["queue"], float(r["start"])): Interval(**r) for r in found}

    async def add(self, events: Iterable[QueueLogEvent],
                  service_level: Callable[[str], float]) -> None:
        parts = fold_all(events, service_level)
        if not parts:
            return
        adds = ", ".join(f"{c} = acd_intervals.{c} + excluded.{c}" for c in (*_COUNTS, *_SUMS))
        sql = (f"INSERT INTO acd_intervals ({', '.join(_COLUMNS)}) VALUES "
               f"({', '.join('?' for _ in _COLUMNS)}) ON CONFLICT (queue, start) DO UPDATE SET "
               f"{adds}, longest_wait = CASE WHEN excluded.longest_wait > "
               "acd_intervals.longest_wait THEN excluded.longest_wait ELSE "
               "acd_intervals.longest_wait END")
        async with self.db.transaction():
            for part in parts.values():
                await self.db.execute(sql, *(getattr(part, c) for c in _COLUMNS))
        for key, part in parts.items():
            if key in self.rows:
                self.rows[key].add(part)
            else:
                self.rows[key] = dataclasses.replace(part)
                self.forget_before(part.start - KEPT_INTERVALS_S)

    def forget_before(self, since: float) -> None:
        self.rows = {k: v for k, v in self.rows.items() if k[1] >= since}

    def summary(self, since: float, until: float | None = None
                ) -> Mapping[str, dict[str, float | int | None]]:
        """Per queue, the KPIs of the intervals that start in [since, until)."""
        per_queue: dict[str, list[Interval]] = {}
        for (queue, start), row in self.rows.items():
            if start >= since and (until is None or start < until):
                per_queue.setdefault(queue, []).append(row)
        return {queue: kpis(rows) for queue, rows in per_queue.items()}
