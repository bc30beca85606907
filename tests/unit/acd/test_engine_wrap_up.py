"""The ACD engine's wrap-up and restart (services/acd/engine.py): after-call work then
available with its ACW event, cut short by a pause or a logout; a restart restoring the agents
from the store (a call gone becomes wrap-up, a stored wrap-up ends at once, agents no longer
configured are dropped); and stop() right after a wake. On the ACD's fakes (fakes.py), with
engine_helpers.py; `fast_sleep` lets wrap-ups of whole seconds end without waiting them out.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ivr.services.acd import engine
from ivr.services.acd.agents import AgentState

from .engine_helpers import STATES, on_call, queue, state
from .fakes import T0, Rig, eventually, rig


@pytest.fixture
async def r(tmp_path: Path) -> AsyncIterator[Rig]:
    async with rig(tmp_path, STATES) as it:
        yield it


class FastSleep:
    """Stands in for the `asyncio` module inside engine.py: sleep() notes the seconds asked for
    and returns at once; everything else is asyncio's own."""

    def __init__(self) -> None:
        self.asked: list[float] = []
        self._sleep = asyncio.sleep

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    async def sleep(self, seconds: float) -> None:
        self.asked.append(seconds)
        await self._sleep(0)


@pytest.fixture
def fast_sleep(monkeypatch: pytest.MonkeyPatch) -> FastSleep:
    """Wrap-up timers of whole seconds without waiting them out (only engine.py's sleeps)."""
    fake = FastSleep()
    monkeypatch.setattr(engine, "asyncio", fake)
    return fake


# -- wrap-up ---------------------------------------------------------------------------------


async def test_wrap_up_then_available_with_an_acw_event(r: Rig, fast_sleep: FastSleep) -> None:
    await r.acd.login("a1")
    agent = await on_call(r, "a1", "c7")
    r.clock.advance(90)
    await r.acd.call_ended(agent, queue(r, "support"), "c7")
    assert state(r, agent.id) is AgentState.WRAP_UP and agent.call_id == ""
    assert await r.logged("ACW") == [], "no ACW before wrap-up ends"

    r.clock.advance(7)
    await eventually(lambda: agent.state is AgentState.AVAILABLE)
    assert fast_sleep.asked == [7.0]
    assert agent.idle_since == T0 + 97, "idle from the end of wrap-up"
    assert await r.lines("ACW") == ["c7|support|PJSIP/a1|ACW|7"]
    assert [row.state for row in await r.store.agents()] == ["available"]


async def test_a_pause_during_wrap_up_ends_it_with_the_acw_really_taken(
        r: Rig, fast_sleep: FastSleep) -> None:
    await r.acd.login("a1")
    agent = await on_call(r, "a1")
    await r.acd.call_ended(agent, queue(r, "support"), "c1")
    r.clock.advance(3)
    await r.acd.pause("a1", "toilet")
    await asyncio.sleep(0.01)  # the 7 s wrap-up timer would be over by now
    assert state(r, "a1") is AgentState.PAUSED and agent.pause_reason == "toilet"
    assert await r.lines("ACW", "PAUSE") == [
        "c1|support|PJSIP/a1|ACW|3",
        "NONE|sales|PJSIP/a1|PAUSE|toilet", "NONE|support|PJSIP/a1|PAUSE|toilet"]


async def test_a_logout_during_wrap_up_ends_it(r: Rig) -> None:
    await r.acd.login("a2")
    agent = await on_call(r, "a2")
    await r.acd.call_ended(agent, queue(r, "sales"), "c1")
    await r.acd.logout("a2")
    await asyncio.sleep(0.1)  # twice sales' wrap-up
    assert state(r, agent.id) is AgentState.LOGGED_OUT
    assert await r.lines("ACW", "REMOVEMEMBER") == ["c1|sales|PJSIP/a2|ACW|0",
                                                    "NONE|sales|PJSIP/a2|REMOVEMEMBER"]


# -- restart ---------------------------------------------------------------------------------


async def test_a_restart_restores_agents(tmp_path: Path, fast_sleep: FastSleep) -> None:
    async with rig(tmp_path, STATES) as first:
        for agent_id in ("a1", "a2", "a3"):
            await first.acd.login(agent_id)
        await first.acd.pause("a2", "lunch")
        await on_call(first, "a1")

    async with rig(tmp_path, STATES) as second:
        second.clock.advance(30)
        await second.acd.start()
        a1 = second.acd.agent("a1")
        assert a1.state is AgentState.WRAP_UP, "its call is gone: after-call work first"
        assert a1.calls_taken == 1
        assert (state(second, "a2"), second.acd.agent("a2").pause_reason) == (
            AgentState.PAUSED, "lunch")
        assert state(second, "a3") is AgentState.AVAILABLE

        await eventually(lambda: a1.state is AgentState.AVAILABLE)
        assert fast_sleep.asked == [1.0]
        assert a1.idle_since == T0 + 30
        assert await second.lines("ACW") == ["NONE|NONE|PJSIP/a1|ACW|1"]


async def test_a_restart_ends_a_stored_wrap_up_at_once(tmp_path: Path) -> None:
    async with rig(tmp_path, STATES) as first:
        await first.acd.login("a1")
        agent = await on_call(first, "a1")
        await first.acd.call_ended(agent, queue(first, "support"), "c1")  # 7 s: never ends

    async with rig(tmp_path, STATES) as second:
        assert [row.state for row in await second.store.agents()] == ["wrap_up"]
        await second.acd.start()
        await eventually(lambda: state(second, "a1") is AgentState.AVAILABLE, timeout=0.3)


async def test_a_restart_drops_agents_no_longer_configured(tmp_path: Path) -> None:
    async with rig(tmp_path, STATES) as first:
        await first.acd.login("a3")
    fewer = STATES.replace("  a3: {name: Cid, endpoint: PJSIP/a3}\n", "")
    async with rig(tmp_path, fewer) as second:
        await second.acd.start()
        assert set(second.acd.agents) == {"a1", "a2"}


async def test_stop_right_after_a_wake_ends_the_dispatcher(r: Rig) -> None:
    """A wrap-up that ends (or a caller who joins) as the service shuts down wakes the
    dispatcher in the same loop turn as stop() cancels it. stop() must still return."""
    await r.acd.start()
    await asyncio.sleep(0.01)  # the dispatcher waits for work
    r.acd.wake()
    try:
        async with asyncio.timeout(0.3):
            await r.acd.stop()
        stopped = True
    except TimeoutError:
        stopped = False
    assert stopped, (
        "Acd.stop() hangs: _dispatch_forever's asyncio.wait_for(self._wake.wait(), 1.0) "
        "returns the wait's result instead of raising CancelledError when the event was set "
        "in the same turn (Python 3.11's wait_for), so the loop goes on and stop()'s gather "
        "never ends")
