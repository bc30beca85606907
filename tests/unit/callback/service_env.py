"""What the callback service's tests share (test_callback_*.py; conftest.py gives the `env`
fixture): the queues, the clock's start, the `Env` of a test and a few waits.

The service (services/callback/service.py, serve.py) runs with the ACD on a fake ARI, a fake
clock and a real SQLite database (tests/unit/acd/fakes.py). Serving runs for real: the
dispatcher offers a listed callback, agents' phones answer when the test sends their channel a
StasisStart, the customer's dial ends with the events the test sends, and every playback
finishes as soon as it starts.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field

from ivr.services.acd.results import QueueResult
from ivr.services.callback.entry import CallbackEntry
from ivr.services.callback.service import Callbacks
from ivr.services.callback.store import Callback, CallbackStore

from ..acd.fakes import Rig, eventually

QUEUES = """
agents:
  a1: {name: Ann, endpoint: PJSIP/a1}
  a2: {name: Bob, endpoint: PJSIP/a2}
queues:
  sales:
    members: [a1]
    ring_timeout: 5
    callback:
      attempts: 3
      retry: [60, 300]
      window: "09:00-20:00"
      timezone: Asia/Seoul
      timezones: {"+1": America/New_York}
      caller_id: '"Bank" <15880000>'
  care:
    members: [a2]
    priority: 2
    join_empty: true
    callback:
      mode: customer_first
      window: "00:00-00:00"
      expire_after: 3600
  brief:
    members: [a2]
    max_wait: 30
    join_empty: true
    callback: {mode: customer_first, window: "00:00-00:00"}
"""
"""sales: agent-first, a1 answers, 09:00-20:00 in Seoul, three tries (60 s, then 300 s apart),
a day to expire. care: customer-first, a2 answers, any hour, an hour to expire. brief: like
care, but its callers wait 30 s at most."""

NOW = dt.datetime(2026, 11, 23, 1, 0, 0, tzinfo=dt.UTC)
"""10:00 in Seoul: inside sales' window."""

DIAL = "PJSIP/{number}@trunk"
NUMBER = "01099998888"
CUSTOMER = f"PJSIP/{NUMBER}@trunk"


def kst(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=dt.UTC) - dt.timedelta(hours=9)


def seconds(n: float) -> dt.timedelta:
    return dt.timedelta(seconds=n)


@dataclass
class Env:
    r: Rig
    svc: Callbacks
    store: CallbackStore
    played: list[str]
    """Media of every playback started on any channel, in order."""
    calls: list[asyncio.Task[QueueResult]] = field(default_factory=list)
    """Callers' waits in a queue (cancelled at the end: they hang up)."""

    def at(self, moment: dt.datetime) -> None:
        self.r.clock.now = moment.timestamp()

    def advance(self, delta: dt.timedelta) -> None:
        self.r.clock.advance(delta.total_seconds())

    @property
    def now(self) -> dt.datetime:
        return self.svc.now()

    def originated(self) -> list[str]:
        return [endpoint for _, endpoint in self.r.rest.originated]

    async def listed(self, cb: Callback) -> CallbackEntry:
        """tick() lists it; its entry in the ACD."""
        await self.svc.tick()
        assert self.r.acd.sessions.get(cb.id) is self.svc.entries[cb.id]
        return self.svc.entries[cb.id]

    async def stored(self, cb: Callback) -> Callback:
        got = await self.store.get(cb.id)
        assert got is not None
        return got


async def rung(env: Env, endpoint: str, nth: int = 1) -> str:
    """The channel of the nth dial to `endpoint`."""
    def dialled() -> str | None:
        found = [cid for cid, ep in env.r.rest.originated if ep == endpoint]
        return found[nth - 1] if len(found) >= nth else None
    return await eventually(dialled)


async def served(entry: CallbackEntry) -> None:
    """Until the serving the dispatcher started for `entry` has ended."""
    task = await eventually(lambda: entry.task)
    async with asyncio.timeout(2):
        await asyncio.gather(task, return_exceptions=True)
