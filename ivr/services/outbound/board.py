"""Campaigns on the wallboard: each campaign's calls now and its day so far.

The dialler counts every attempt's result as it stores it (`Today`, from local midnight, as
the queues' day on the wallboard), so the board needs no query: GET /wallboard and its pushes
(web_wallboard.py) add `campaigns` beside the queues. The full figures per interval are the
REST report (report.py).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..acd.wallboard import start_of_day
from .campaign import Campaigns
from .pacing import Decision
from .store import NOT_DIALLED

__all__ = ["Today", "campaign_board"]


@dataclass
class Today:
    """Attempts by campaign and result since local midnight."""

    since: float = field(default_factory=lambda: start_of_day(time.time()))
    counts: dict[str, Counter[str]] = field(default_factory=dict)

    def count(self, campaign: str, result: str, now: float) -> None:
        midnight = start_of_day(now)
        if midnight != self.since:
            self.since, self.counts = midnight, {}
        self.counts.setdefault(campaign, Counter())[result] += 1

    def of(self, campaign: str, now: float) -> Counter[str]:
        if start_of_day(now) != self.since:
            return Counter()
        return self.counts.get(campaign, Counter())


class LiveCallView(Protocol):
    @property
    def campaign(self) -> str: ...
    @property
    def phase(self) -> str: ...


def campaign_board(campaigns: Campaigns, running: set[str], calls: Iterable[LiveCallView],
                   last: Mapping[str, Decision], today: Today, now: float, *,
                   queues: set[str] | None = None) -> list[dict[str, Any]]:
    """The campaigns of `queues` (None: all; an agentless campaign has no queue and shows to
    those who see every queue)."""
    live = list(calls)
    rows: list[dict[str, Any]] = []
    for campaign in campaigns.campaigns.values():
        if queues is not None and campaign.queue not in queues:
            continue
        mine = [c.phase for c in live if c.campaign == campaign.name]
        counts = today.of(campaign.name, now)
        humans = counts["human"] + counts["abandoned"]
        decision = last.get(campaign.name)
        rows.append({
            "name": campaign.name, "mode": campaign.mode, "queue": campaign.queue or None,
            "running": campaign.name in running,
            "ringing": sum(p in ("ringing", "detecting") for p in mine),
            "waiting_agent": mine.count("waiting_agent"),
            "connected": mine.count("connected"),
            "today": {"dialled": sum(n for r, n in counts.items() if r not in NOT_DIALLED),
                      "human": humans, "machine": counts["machine"],
                      "abandoned": counts["abandoned"],
                      "abandon_rate": round(counts["abandoned"] / humans, 4) if humans
                      else None,
                      "refused": sum(counts[r] for r in NOT_DIALLED)},
            "pacing": decision.reason if decision is not None else None,
        })
    return rows
