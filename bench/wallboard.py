"""Wallboard benchmark: what a refresh costs with 500 callers waiting and 200 agents, on a day
of 24,000 calls, from the per-interval summaries, against the baseline of reading the day's
queue log and replaying it (what `GET /queues/{name}/kpis` does), in the same run.

    .venv/bin/python bench/wallboard.py

Target (issue 15): a wallboard refresh under 10 ms. Also measured: the summaries' share of
each queue-log write (the price of keeping them), and the push's JSON encoding.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from acd import _Client, day_of_log  # noqa: E402

from ivr.media.prompts import PromptLibrary  # noqa: E402
from ivr.services.acd.agents import AgentState  # noqa: E402
from ivr.services.acd.config import QueueConfig  # noqa: E402
from ivr.services.acd.config_reader import parse_acd_config  # noqa: E402
from ivr.services.acd.engine import Acd  # noqa: E402
from ivr.services.acd.entries import EntryView  # noqa: E402
from ivr.services.acd.kpi import compute_kpis  # noqa: E402
from ivr.services.acd.store import AcdStore, EntryState  # noqa: E402
from ivr.services.acd.wallboard import wallboard  # noqa: E402
from ivr.services.db import connect  # noqa: E402

START = 1_795_000_000.0 - 1_795_000_000.0 % 900


@dataclass
class _Waiting:
    """A caller as the wallboard reads it (queue_view: order, state, view, entered_at)."""

    id: str
    queue: QueueConfig
    order: tuple[float, ...]
    entered_at: float
    state: EntryState = EntryState.WAITING
    extra: dict[str, str] = field(default_factory=dict)

    def view(self, now: float) -> EntryView:
        return {"call_id": self.id, "caller": "01012345678", "state": self.state,
                "language": "ko", "priority": 0, "position": int(self.order[1]) + 1,
                "waited_s": round(now - self.entered_at, 1), "agent": None}


def _config(agents: int) -> str:
    lines = ["agents:"]
    lines += [f"  a{i}: {{name: Agent {i}, endpoint: PJSIP/a{i}}}" for i in range(agents)]
    lines += ["queues:", "  q:", f"    members: [{', '.join(f'a{i}' for i in range(agents))}]"]
    return "\n".join(lines) + "\n"


def _median_ms(fn: object, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


async def run(calls: int, waiting: int, agents: int, runs: int, folder: Path) -> dict[str, float]:
    db = await connect(f"sqlite:///{folder / f'wallboard-{calls}.db'}")
    await db.migrate()
    config = parse_acd_config(_config(agents))
    store = AcdStore(db)
    acd = Acd(_Client(), store, lambda: config,  # type: ignore[arg-type]
              PromptLibrary(ROOT / "prompts"))
    acd.sync_agents()
    now = START + 86400 - 1
    states = (AgentState.AVAILABLE, AgentState.ON_CALL, AgentState.WRAP_UP, AgentState.PAUSED)
    for i, agent in enumerate(acd.agents.values()):
        agent.set(states[i % len(states)], now - i)
    acd.sessions = {f"c{i}": _Waiting(f"c{i}", config.queues["q"], (0, i), now - i)  # type: ignore[misc]
                    for i in range(waiting)}
    events = day_of_log(calls, 40, START)
    write_log, write_both = [], []
    for i in range(0, len(events), 4):  # the ACD writes a few events at a time
        batch = events[i:i + 4]
        t0 = time.perf_counter()
        await store.append_log(batch)
        t1 = time.perf_counter()
        await acd.intervals.add(batch, lambda _q: 20.0)
        t2 = time.perf_counter()
        write_log.append((t1 - t0) * 1000)
        write_both.append((t2 - t0) * 1000)
    board = wallboard(acd, now, since=START)
    assert board["queues"][0]["today"]["offered"] == calls, board["queues"][0]["today"]
    assert board["queues"][0]["waiting"] == waiting and len(board["agents"]) == agents
    refresh = _median_ms(lambda: wallboard(acd, now, since=START), runs)
    encode = _median_ms(lambda: json.dumps(wallboard(acd, now, since=START)), runs)
    baseline = []
    for _ in range(max(3, runs // 10)):
        t0 = time.perf_counter()
        read = await store.log_events(until=START + 86400, queue="q")
        compute_kpis(read, start=START, end=START + 86400, queue="q")
        baseline.append((time.perf_counter() - t0) * 1000)
    await db.close()
    return {"events": len(events), "refresh_ms": refresh, "refresh_json_ms": encode,
            "baseline_ms": statistics.median(baseline),
            "write_ms": statistics.median(write_log), "write_with_summaries_ms":
            statistics.median(write_both),
            "json_kb": len(json.dumps(board)) / 1024}


async def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--runs", type=int, default=50)
    args = p.parse_args(argv)
    print("| calls in the day | queue_log events | waiting | agents | wallboard refresh (ms) "
          "| refresh + JSON (ms) | baseline: read + replay the log (ms) | snapshot (KB) "
          "| queue-log write, without / with the summaries (ms) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for calls, waiting, agents in ((1_000, 10, 10), (24_000, 500, 200)):
            r = await run(calls, waiting, agents, args.runs, Path(tmp))
            print(f"| {calls} | {r['events']:.0f} | {waiting} | {agents} | "
                  f"{r['refresh_ms']:.2f} | {r['refresh_json_ms']:.2f} | "
                  f"{r['baseline_ms']:.0f} | {r['json_kb']:.0f} | "
                  f"{r['write_ms']:.2f} / {r['write_with_summaries_ms']:.2f} |", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
