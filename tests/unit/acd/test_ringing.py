"""Ringing never strands an agent: an ARI that does not answer the dial, or a caller who hangs
up while the dial is still in flight, leaves every agent of the group settled and logged."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from ivr.services.acd.agents import AgentState
from ivr.services.acd.ringing import ring_group

from .fakes import rig

QUEUES = """
agents:
  a1: {name: A One, endpoint: PJSIP/a1}
queues:
  q: {strategy: longest_idle, members: [a1], ring_timeout: 1}
"""


def hang_originate(rest: Any) -> None:
    real = rest.request

    async def request(method: str, path: str, **kwargs: Any) -> Any:
        if method == "POST" and path.startswith("/channels/") and path.count("/") == 2:
            await asyncio.Event().wait()  # ARI never answers the dial
        return await real(method, path, **kwargs)

    rest.request = request


async def test_a_dial_ari_never_answers_is_a_no_answer(tmp_path: Path) -> None:
    async with rig(tmp_path, QUEUES) as r:
        hang_originate(r.rest)
        agent = await r.acd.login("a1")
        await r.acd.reserve([agent], "c1")
        queue = r.config[0].queues["q"]
        async with asyncio.timeout(3):
            assert await ring_group(r.acd, queue, "c1", "0101", [agent]) is None
        assert agent.state is AgentState.AVAILABLE and agent.missed_in_row == 1
        assert [e.event for e in await r.logged("RINGNOANSWER")] == ["RINGNOANSWER"]


async def test_a_hangup_while_the_dial_is_in_flight_frees_the_agent(tmp_path: Path) -> None:
    async with rig(tmp_path, QUEUES) as r:
        hang_originate(r.rest)
        agent = await r.acd.login("a1")
        await r.acd.reserve([agent], "c1")
        queue = r.config[0].queues["q"]
        ringing = asyncio.create_task(ring_group(r.acd, queue, "c1", "0101", [agent]))
        await asyncio.sleep(0.05)
        ringing.cancel()
        await asyncio.gather(ringing, return_exceptions=True)
        assert agent.state is AgentState.AVAILABLE and agent.missed_in_row == 0
        assert [e.event for e in await r.logged("RINGCANCELED", "RINGNOANSWER")] == [
            "RINGCANCELED"]
