"""A campaign's figures per interval, from its attempts: what a supervisor and the wallboard
read of it (GET /campaigns/{name}/report).

Per interval (by the attempt's start) and over the whole span: dials placed, the gate's
refusals by reason, results, answered (human and machine, by the AMD's verdict), connected to
an agent, abandoned by the connect-time rule and its rate over the humans answered (the
measure the rules cap), agents' talk seconds and connected calls per agent talk hour, and the
agents' dispositions (conversions: a sale is a disposition).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..db import Row
from .store import NOT_DIALLED

__all__ = ["Figures", "campaign_report"]


@dataclass
class Figures:
    start: dt.datetime
    dialled: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    results: Counter[str] = field(default_factory=Counter)
    connected: int = 0
    talk_s: float = 0.0
    dispositions: Counter[str] = field(default_factory=Counter)

    def add(self, row: Row) -> None:
        result = row["result"]
        if result in NOT_DIALLED:
            for reason in filter(None, str(row["reasons"]).split(",")):
                self.refused[reason] += 1
            return
        self.dialled += 1
        self.results[result] += 1
        if row["connected_at"] is not None:
            self.connected += 1
            self.talk_s += max(0.0, (row["ended_at"] - row["connected_at"]).total_seconds())
        if row["disposition"]:
            self.dispositions[row["disposition"]] += 1

    def as_json(self) -> dict[str, Any]:
        humans = self.results["human"] + self.results["abandoned"]
        return {
            "start": self.start.isoformat(), "dialled": self.dialled,
            "refused": dict(sorted(self.refused.items())),
            "results": dict(sorted(self.results.items())),
            "answered_human": humans, "answered_machine": self.results["machine"],
            "connected": self.connected, "abandoned": self.results["abandoned"],
            "abandon_rate": round(self.results["abandoned"] / humans, 4) if humans else None,
            "talk_s": round(self.talk_s, 1),
            "connected_per_talk_hour": round(self.connected / (self.talk_s / 3600), 2)
            if self.talk_s else None,
            "dispositions": dict(sorted(self.dispositions.items())),
        }


def campaign_report(rows: Iterable[Row], since: dt.datetime, until: dt.datetime,
                    interval: dt.timedelta) -> dict[str, Any]:
    """Figures per `interval` from `since` (aligned to it) and in total."""
    total = Figures(since)
    buckets: dict[int, Figures] = {}
    step = interval.total_seconds()
    for row in rows:
        started: dt.datetime = row["started_at"]
        if not since <= started < until:
            continue
        index = int((started - since).total_seconds() // step)
        bucket = buckets.setdefault(index, Figures(since + index * interval))
        bucket.add(row)
        total.add(row)
    return {"since": since.isoformat(), "until": until.isoformat(),
            "interval_s": step, "total": total.as_json(),
            "intervals": [buckets[i].as_json() for i in sorted(buckets)]}
