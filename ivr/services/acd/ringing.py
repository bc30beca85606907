"""Ringing agents for one caller: dial each agent of a ring group into the application, take the
first who answers, and settle every other leg (hung up, logged as no-answer or canceled).

Whatever happens (an answer, the ring timeout, the caller hanging up and cancelling this), no
dialled leg is left ringing and every agent of the group is back in a state the dispatcher
understands: the winner on the call, the others available, or paused after too many misses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from ...ari import (
    AriError,
    ChannelDestroyed,
    ChannelHandle,
    ChannelHangupRequest,
    StasisEnd,
    StasisStart,
)
from ...ari.handles import new_id
from .agents import Agent
from .config import QueueConfig
from .engine import Acd

log = logging.getLogger(__name__)

AGENT_ARG = "acd-agent"
"""First Stasis argument of the channels the ACD dials to agents."""


@dataclass(frozen=True, slots=True)
class Answered:
    agent: Agent
    channel: ChannelHandle
    """The agent's leg, in the application, subscribed."""
    ring_s: float


async def ring_group(acd: Acd, queue: QueueConfig, call_id: str, caller_number: str,
                     group: Sequence[Agent]) -> Answered | None:
    started = acd.clock()
    handles: dict[str, ChannelHandle] = {}
    winner: Agent | None = None
    settled: set[str] = set()
    waits: dict[asyncio.Task[bool], str] = {}
    try:  # from the first dial on: whatever interrupts, every agent of the group is settled
        for agent in group:
            try:
                async with asyncio.timeout(queue.ring_timeout):
                    handles[agent.id] = await acd.client.channels.originate(
                        agent.config.endpoint, app_args=f"{AGENT_ARG},{call_id}",
                        caller_id=f'"{caller_number}" <{caller_number}>',
                        timeout=int(queue.ring_timeout) + 5,
                        channel_id=new_id(f"acd-{agent.id}-"))
                log.info("ringing %s for %s", agent.id, call_id)
            except (AriError, TimeoutError) as exc:
                log.warning("cannot ring %s: %s", agent.id, exc or "no answer from ARI")
        waits = {asyncio.create_task(_answer_of(h)): agent_id
                 for agent_id, h in handles.items()}
        pending = set(waits)
        deadline = started + queue.ring_timeout
        while pending and winner is None:
            done, pending = await asyncio.wait(
                pending, timeout=max(0.0, deadline - acd.clock()),
                return_when=asyncio.FIRST_COMPLETED)
            if not done:
                break
            for task in done:
                agent = acd.agents[waits[task]]
                if task.result() and winner is None:
                    winner = agent
                    log.info("%s answered %s", agent.id, call_id)
                else:
                    settled.add(agent.id)
                    events = handles[agent.id].events
                    if events is not None:
                        events.close()
                    await acd.ring_failed(agent, queue, call_id, _ms(acd.clock() - started))
    finally:
        for task in waits:
            task.cancel()
        current = asyncio.current_task()
        canceled = winner is not None or (current is not None and current.cancelling() > 0)
        for agent in group:
            if agent is winner or agent.id in settled:
                continue
            handle = handles.get(agent.id)
            if handle is not None:
                with contextlib.suppress(AriError):
                    await handle.hangup()
                if handle.events is not None:
                    handle.events.close()
            await acd.ring_failed(agent, queue, call_id, _ms(acd.clock() - started),
                                  answered_elsewhere=canceled)
    if winner is None:
        return None
    return Answered(winner, handles[winner.id], acd.clock() - started)


async def _answer_of(channel: ChannelHandle) -> bool:
    """True when the agent answers (the dialled channel enters the application)."""
    assert channel.events is not None
    async for event in channel.events:
        if isinstance(event, StasisStart):
            return True
        if isinstance(event, ChannelDestroyed | ChannelHangupRequest | StasisEnd):
            return False
    return False


def _ms(seconds: float) -> int:
    return int(seconds * 1000)
