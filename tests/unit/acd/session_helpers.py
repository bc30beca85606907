"""What the tests of a caller's wait in a queue share (test_session_waiting.py,
test_session_agent.py): the queues, the started Acd (`queue_rig`, which each module's `r`
fixture enters) and the steps of a call: a caller, its flow task joining a queue, the holding
bridge, an agent's phone rung and answered.

The Acd runs (its dispatcher rings agents) on a real SQLite database and a fake ARI
(fakes.py). Agents' phones answer when the test sends their channel a StasisStart; the clock
is fake, so waits and talk times are whatever the test says.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from ivr.ari import StasisStart
from ivr.services.acd.results import QueueResult
from ivr.services.acd.session import QueueSession
from ivr.services.acd.waiting import QueueRequest, wait

from .fakes import FakeCaller, Rig, eventually, rig

QUEUES = """
agents:
  a1: {name: Ann, endpoint: PJSIP/a1}
  a2: {name: Bob, endpoint: PJSIP/a2}
queues:
  sales:
    members: [a1]
    wrapup: 60
    max_wait: 30
    max_length: 2
    keys: {"1": callback}
    announce: {prompts: [queue-thanks]}
  care:
    members: [a2]
    join_empty: true
    transfer_code: "2"
"""
"""sales: a1 answers, callers may press 1 or wait 30 s at most, two at a time. care: a2's,
joinable with nobody logged in, reached by an agent's ##2#."""

HOLD = "acd-hold-sales"
NUMBER = "01012345678"


@asynccontextmanager
async def queue_rig(tmp_path: Path) -> AsyncIterator[Rig]:
    """The Acd on QUEUES, started (its dispatcher rings agents); on exit, callers' flow tasks
    still waiting are cancelled (they hang up)."""
    async with rig(tmp_path, QUEUES) as it:
        await it.acd.start()
        yield it
        calls = [t for t in asyncio.all_tasks() if t.get_name().startswith("call-")]
        for task in calls:
            task.cancel()
        await asyncio.gather(*calls, return_exceptions=True)


def caller(r: Rig, channel_id: str = "caller-1", language: str = "ko") -> FakeCaller:
    return FakeCaller(r.client, channel_id, NUMBER, language)


def join(r: Rig, who: FakeCaller, queue: str = "sales") -> asyncio.Task[QueueResult]:
    """The caller's flow task, waiting in `queue`."""
    return asyncio.create_task(wait(r.acd, who, QueueRequest(queue)), name=f"call-{who.id}")


async def holding(r: Rig, who: FakeCaller, queue: str = "sales") -> QueueSession:
    """Once the caller is in the queue's holding bridge: its session."""
    await eventually(lambda: who.id in r.rest.bridges.get(f"acd-hold-{queue}", ()))
    session: QueueSession = r.acd.sessions[who.id]
    return session


async def rung(r: Rig, endpoint: str = "PJSIP/a1", nth: int = 1) -> str:
    """The channel of the nth call to `endpoint`."""
    def dialled() -> str | None:
        found = [cid for cid, ep in r.rest.originated if ep == endpoint]
        return found[nth - 1] if len(found) >= nth else None
    return await eventually(dialled)


async def connected(r: Rig, who: FakeCaller, agent_channel: str) -> QueueSession:
    """The agent's phone answers (its channel enters the application)."""
    r.client.channel_event(StasisStart, agent_channel, args=("acd-agent", who.id))
    session: QueueSession = r.acd.sessions[who.id]
    await eventually(lambda: session.state == "connected")
    return session


async def paused_agent(r: Rig, agent_id: str = "a1") -> None:
    """Logged in (the queue is worth joining) but taking no calls."""
    await r.acd.login(agent_id)
    await r.acd.pause(agent_id, "meeting")


async def still_waiting(task: asyncio.Task[QueueResult]) -> bool:
    """True if the wait goes on through a few rounds of its loop."""
    await asyncio.sleep(FakeCaller.POLL * 4)
    return not task.done()
