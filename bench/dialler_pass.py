"""The live dialler's decision loop: what one `Dialler.pass_once()` costs at 50 agents.

    .venv/bin/python bench/dialler_pass.py             # 300 passes of each kind
    .venv/bin/python bench/dialler_pass.py --passes 50

A pass is what runs every second for each running campaign (ivr/services/outbound/dialler.py):
the snapshot of the queue's agents and callers, the pacing decision, and for each call it
places the compliance gate's lookups (the number's past dials, callbacks included, and the
do-not-call lists) and the claim, on a real SQLite database holding 20,000 contacts and 30,000
past attempts. Only the originate itself is left out (it runs in the call's own task, after
the pass): `_start_call` is recorded instead.

Three kinds of pass, side by side in one run:
- idle: the 50 agents are busy, nothing to place (the usual pass while agents talk);
- dialling: 5 agents free, so progressive places 5 calls;
- refusing: 5 agents free, and the first 20 due contacts are on the do-not-call list, so the
  pass stores 20 refusals before it places 5 calls.
Target (issue 16): under 5 ms a pass at 50 agents.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ivr.ari.client import AriClient, AriConfig
from ivr.media.prompts import PromptLibrary
from ivr.services.acd.agents import AgentState
from ivr.services.acd.config_reader import parse_acd_config
from ivr.services.acd.engine import Acd
from ivr.services.acd.store import AcdStore
from ivr.services.db import Database, connect
from ivr.services.outbound.config_campaigns import parse_campaigns
from ivr.services.outbound.contacts_csv import parse_contacts
from ivr.services.outbound.dialler import Dialler
from ivr.services.outbound.store import OutboundStore

AGENTS = 50
CONTACTS = 20_000
PAST = 30_000
NOW = dt.datetime(2026, 12, 8, 15, 0, tzinfo=dt.UTC)  # 10:00 in New York
QUEUES = "agents:\n" + "".join(
    f"  a{n}: {{name: A{n}, endpoint: PJSIP/a{n}}}\n" for n in range(AGENTS)) + (
    "queues:\n  sales:\n    members: [" + ", ".join(f"a{n}" for n in range(AGENTS)) + "]\n")
CAMPAIGNS = """
campaigns:
  bench: {mode: progressive, queue: sales, rules: us, timezone: America/New_York}
"""


class RecordingDialler(Dialler):
    """The live dialler, its originate left out: the calls a pass places are recorded."""

    placed = 0

    def _start_call(self, *args: Any, **kwargs: Any) -> None:
        self.placed += 1


async def setup(db: Database) -> tuple[RecordingDialler, Acd, OutboundStore]:
    await db.migrate()
    config = parse_acd_config(QUEUES)
    client = AriClient(AriConfig("http://127.0.0.1:9", "bench", "bench", "ivr"))
    acd = Acd(client, AcdStore(db), lambda: config, PromptLibrary(Path("/nonexistent")),
              clock=NOW.timestamp)
    acd.sync_agents()
    campaigns = parse_campaigns(CAMPAIGNS, acd=config)
    store = OutboundStore(db)
    text = "number,name\n" + "".join(f"1212{n:07d},C{n}\n" for n in range(CONTACTS))
    await store.import_contacts("bench", parse_contacts(text, campaigns.campaigns["bench"]),
                                now=NOW - dt.timedelta(days=1))
    await db.execute("INSERT INTO outbound_national_lists (id, list_date, source, numbers,"
                     " imported_at) VALUES ('n', ?, 'bench', 0, ?)", NOW.date(), NOW)
    rows = await db.fetch_all("SELECT id, number FROM outbound_contacts LIMIT ?", PAST)
    await db.execute_many(
        "INSERT INTO outbound_attempts (contact_id, campaign, number, attempt, started_at,"
        " ended_at, result) VALUES (?, 'bench', ?, 1, ?, ?, 'no_answer')",
        [(r["id"], r["number"], NOW - dt.timedelta(days=3), NOW - dt.timedelta(days=3))
         for r in rows])
    dialler = RecordingDialler(client, acd, store, lambda: campaigns, dial="PJSIP/{number}",
                               clock=NOW.timestamp)
    await dialler.set_running("bench", True)
    for agent in acd.agents.values():
        agent.set(AgentState.ON_CALL, NOW.timestamp() - 60)
    return dialler, acd, store


async def timed(dialler: RecordingDialler, passes: int, before: Any) -> list[float]:
    out: list[float] = []
    for _ in range(passes):
        await before()
        started = time.perf_counter()
        await dialler.pass_once()
        out.append((time.perf_counter() - started) * 1000)
    return out


async def run(passes: int) -> dict[str, tuple[list[float], int]]:
    with tempfile.TemporaryDirectory() as tmp:
        async with await connect(f"sqlite:///{tmp}/bench.db") as db:
            dialler, acd, store = await setup(db)
            agents = list(acd.agents.values())
            results: dict[str, tuple[list[float], int]] = {}

            async def idle() -> None:
                pass

            async def five_free() -> None:
                for agent in agents[:5]:
                    agent.set(AgentState.AVAILABLE, NOW.timestamp())

            async def five_free_behind_dnc() -> None:
                await five_free()
                due = await store.due("bench", NOW, 20)
                for contact in due:
                    await store.opt_out(contact.number, "bench")

            for name, before in (("idle", idle), ("dialling", five_free),
                                 ("refusing", five_free_behind_dnc)):
                dialler.placed = 0
                results[name] = (await timed(dialler, passes, before), dialler.placed)
            return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=300)
    args = parser.parse_args()
    results = asyncio.run(run(args.passes))
    print(f"## Dialler.pass_once() at {AGENTS} agents, {CONTACTS:,} contacts, {PAST:,} past "
          f"attempts (SQLite), {args.passes} passes each\n")
    print("| pass | calls placed a pass | median ms | p95 ms | max ms |")
    print("|---|---|---|---|---|")
    for name, (ms, placed) in results.items():
        ms.sort()
        p95 = ms[int(len(ms) * 0.95) - 1]
        print(f"| {name} | {placed / args.passes:g} | {statistics.median(ms):.2f} | "
              f"{p95:.2f} | {ms[-1]:.2f} |")


if __name__ == "__main__":
    main()
