"""ACD benchmark: the dispatcher's cost per pass and the KPI computation over a day's log.

    .venv/bin/python bench/acd.py            # prints a Markdown table; results in RESULTS.md

What it measures, with the real engine and a real SQLite database (nothing timed is faked but
Asterisk's endpoint lookups, answered in-process as 'online, idle'):
- one dispatch pass that matches W waiting callers with A free agents (strategy, reservation
  written to the database for every agent offered), and an idle pass (everybody busy): the
  second is what the dispatcher spends every second while callers wait;
- reading a day of queue_log from the database and computing the KPIs from it, which is what
  `GET /queues/{name}/kpis` does.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ivr.media.prompts import PromptLibrary  # noqa: E402
from ivr.services.acd.agents import Agent, AgentState  # noqa: E402
from ivr.services.acd.config import QueueConfig  # noqa: E402
from ivr.services.acd.config_reader import parse_acd_config  # noqa: E402
from ivr.services.acd.engine import Acd  # noqa: E402
from ivr.services.acd.entries import EntryView  # noqa: E402
from ivr.services.acd.kpi import compute_kpis  # noqa: E402
from ivr.services.acd.queue_log import QueueLogEvent  # noqa: E402
from ivr.services.acd.store import AcdStore, EntryState  # noqa: E402
from ivr.services.db import connect  # noqa: E402


@dataclass
class _Endpoint:
    state: str = "online"
    channel_ids: tuple[str, ...] = ()


class _Endpoints:
    async def get(self, technology: str, resource: str) -> _Endpoint:
        return _Endpoint()


@dataclass
class _Client:
    endpoints: _Endpoints = field(default_factory=_Endpoints)


@dataclass
class _Waiting:
    """A caller as dispatch() reads it (an entries.QueueEntry); offer() records instead of
    dialling."""

    id: str
    queue: QueueConfig
    order: tuple[float, ...]
    entered_at: float
    tried: set[str] = field(default_factory=set)
    last_try: float = 0.0
    offerable: bool = True
    claims_agents: bool = True
    holds: bool = True
    state: EntryState = EntryState.WAITING
    offers: list[list[str]] = field(default_factory=list)

    def offer(self, group: Sequence[Agent]) -> None:
        self.offers.append([a.id for a in group])
        self.offerable = False
        self.state = EntryState.RINGING

    def position(self) -> int:
        raise NotImplementedError("dispatch() never asks")

    def view(self, now: float) -> EntryView:
        raise NotImplementedError("dispatch() never asks")

    def refresh_place(self) -> None:
        """Nobody on the line."""


def _config(agents: int, strategy: str) -> str:
    lines = ["agents:"]
    for i in range(agents):
        lines.append(f"  a{i}: {{name: Agent {i}, endpoint: PJSIP/a{i}, "
                     f"skills: {{billing: {i % 3}}}}}")
    lines += ["queues:", "  q:", f"    strategy: {strategy}"]
    if strategy == "skills":
        lines += ["    skills: [billing]", "    widen: [{after: 0, max_penalty: 2}]"]
    else:
        lines.append(f"    members: [{', '.join(f'a{i}' for i in range(agents))}]")
    return "\n".join(lines) + "\n"


async def dispatch_pass(folder: Path, waiting: int, agents: int, strategy: str,
                        runs: int) -> tuple[float, float]:
    """(ms for a pass that makes min(W, A) offers, ms for an idle pass), medians."""
    db = await connect(f"sqlite:///{folder / f'{strategy}-{waiting}-{agents}.db'}")
    await db.migrate()
    config = parse_acd_config(_config(agents, strategy))
    acd = Acd(_Client(), AcdStore(db), lambda: config,  # type: ignore[arg-type]
              PromptLibrary(ROOT / "prompts"))
    acd.sync_agents()
    busy_ms, idle_ms = [], []
    for _ in range(runs):
        now = time.time()
        for i, agent in enumerate(acd.agents.values()):
            agent.set(AgentState.AVAILABLE, now)
            agent.idle_since = now - i
        callers = [_Waiting(f"c{i}", config.queues["q"], (0, i), now - i)
                   for i in range(waiting)]
        acd.sessions = {c.id: c for c in callers}
        t0 = time.perf_counter()
        await acd.dispatch()
        busy_ms.append((time.perf_counter() - t0) * 1000)
        offered = sum(len(c.offers) for c in callers)
        assert offered == min(waiting, agents) or strategy == "ring_all", offered
        t0 = time.perf_counter()
        await acd.dispatch()
        idle_ms.append((time.perf_counter() - t0) * 1000)
    await db.close()
    return statistics.median(busy_ms), statistics.median(idle_ms)


def day_of_log(calls: int, agents: int, start: float) -> list[QueueLogEvent]:
    rng = random.Random(7)
    events: list[QueueLogEvent] = []
    for i in range(agents):
        events.append(QueueLogEvent(start, "NONE", "q", f"PJSIP/a{i}", "ADDMEMBER", ()))
    for n in range(calls):
        t = start + n * 86400 / calls
        cid = f"{t:.3f}"
        events.append(QueueLogEvent(t, cid, "q", "NONE", "ENTERQUEUE", ("", "555")))
        hold = rng.randint(0, 90)
        agent = f"PJSIP/a{rng.randrange(agents)}"
        if rng.random() < 0.08:
            events.append(QueueLogEvent(t + hold, cid, "q", "NONE", "ABANDON",
                                        ("1", "1", str(hold))))
            continue
        talk = rng.randint(60, 400)
        events += [
            QueueLogEvent(t + hold, cid, "q", agent, "CONNECT", (str(hold), "x", "3")),
            QueueLogEvent(t + hold + talk, cid, "q", agent, "COMPLETECALLER",
                          (str(hold), str(talk), "1")),
            QueueLogEvent(t + hold + talk + 10, cid, "q", agent, "ACW", ("10",)),
        ]
    return sorted(events, key=lambda e: e.time)


async def kpi_day(folder: Path, calls: int) -> tuple[int, float, float]:
    """(events, ms to read them from SQLite, ms to compute the KPIs)."""
    db = await connect(f"sqlite:///{folder / f'kpi-{calls}.db'}")
    await db.migrate()
    store = AcdStore(db)
    start = 1_795_000_000.0
    events = day_of_log(calls, 40, start)
    for i in range(0, len(events), 5000):
        await store.append_log(events[i:i + 5000])
    t0 = time.perf_counter()
    read = await store.log_events(until=start + 86400, queue="q")
    read_ms = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    kpis = compute_kpis(read, start=start, end=start + 86400, queue="q")
    compute_ms = (time.perf_counter() - t0) * 1000
    assert kpis.offered == calls
    await db.close()
    return len(read), read_ms, compute_ms


async def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print("| strategy | waiting | agents | offering pass (ms) | idle pass (ms) |")
        print("|---|---:|---:|---:|---:|")
        for strategy in ("longest_idle", "round_robin", "fewest_calls", "ring_all", "skills"):
            for waiting, agents in ((10, 10), (100, 50), (500, 200)):
                busy, idle = await dispatch_pass(folder, waiting, agents, strategy, args.runs)
                print(f"| {strategy} | {waiting} | {agents} | {busy:.1f} | {idle:.2f} |")
        print()
        print("| calls in the day | queue_log events | read from SQLite (ms) | KPIs (ms) |")
        print("|---:|---:|---:|---:|")
        for calls in (1_000, 24_000):
            events, read_ms, compute_ms = await kpi_day(folder, calls)
            print(f"| {calls} | {events} | {read_ms:.0f} | {compute_ms:.0f} |")


if __name__ == "__main__":
    asyncio.run(main())
