"""A caller's wait in a queue (session.wait) before an agent takes it: joining or not (no
agents, a full queue, an unknown queue), leaving by an exit key, max wait or an empty queue,
hanging up while waiting or while an agent rings, the announcements of position and expected
wait, and the holding bridge kept while someone waits. On the ACD's fakes (fakes.py), with
session_helpers.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ivr.services.acd.agents import AgentState
from ivr.services.acd.results import Left, UnknownQueue
from ivr.services.acd.session import QueueSession
from ivr.services.acd.waiting import QueueRequest, wait

from .fakes import Rig
from .session_helpers import (
    HOLD,
    NUMBER,
    caller,
    holding,
    join,
    paused_agent,
    queue_rig,
    rung,
    still_waiting,
)


@pytest.fixture
async def r(tmp_path: Path) -> AsyncIterator[Rig]:
    async with queue_rig(tmp_path) as it:
        yield it


# -- joining ---------------------------------------------------------------------------------


async def test_nobody_logged_in_means_no_agents_and_no_entry(r: Rig) -> None:
    who = caller(r)
    assert await wait(r.acd, who, QueueRequest("sales")) == Left("no_agents")
    assert await r.lines() == ["caller-1|sales|NONE|JOINEMPTY"]
    assert await r.store.entry("caller-1") is None
    assert r.rest.bridges == {}, "the caller never hears the queue's music"
    assert ("queue_exit", {"queue": "sales", "outcome": "no_agents"}) in who.traces


async def test_a_paused_agent_is_enough_to_join(r: Rig) -> None:
    await paused_agent(r)
    who = caller(r)
    task = join(r, who)
    await holding(r, who)
    assert await r.lines("ENTERQUEUE", "JOINEMPTY") == [
        f"caller-1|sales|NONE|ENTERQUEUE||{NUMBER}"]
    assert r.rest.bridge_types[HOLD] == "holding"
    assert r.rest.sent("POST", f"/bridges/{HOLD}/moh")[0].params == {"mohClass": "default"}
    entry = await r.store.entry("caller-1")
    assert entry is not None and (entry.queue, entry.state, entry.orig_position) == (
        "sales", "waiting", 1)
    assert await still_waiting(task)


async def test_a_full_queue_turns_the_next_caller_away(r: Rig) -> None:
    await paused_agent(r)
    first, second, third = caller(r, "c1"), caller(r, "c2"), caller(r, "c3")
    join(r, first)
    await holding(r, first)
    join(r, second)
    await holding(r, second)
    assert await wait(r.acd, third, QueueRequest("sales")) == Left("full")
    assert await r.lines("ENTERQUEUE", "FULL") == [
        f"c1|sales|NONE|ENTERQUEUE||{NUMBER}", f"c2|sales|NONE|ENTERQUEUE||{NUMBER}",
        "c3|sales|NONE|FULL"]
    assert await r.store.entry("c3") is None
    assert "c3" not in r.rest.bridges[HOLD]


async def test_an_unknown_queue_is_no_wait(r: Rig) -> None:
    who = caller(r)
    assert await wait(r.acd, who, QueueRequest("nosuch")) == UnknownQueue("nosuch")
    assert await r.logged() == []
    assert ("queue_unknown", {"queue": "nosuch"}) in who.traces


# -- leaving without an agent ----------------------------------------------------------------


async def test_an_exit_key_leaves_with_its_outcome(r: Rig) -> None:
    await paused_agent(r)
    who = caller(r)
    task = join(r, who)
    await holding(r, who)
    r.clock.advance(5)
    who.digits.put_nowait("5")
    assert await still_waiting(task), "a key the queue does not list is ignored"

    who.digits.put_nowait("1")
    assert await task == Left("callback")
    assert await r.lines("EXITWITHKEY") == ["caller-1|sales|NONE|EXITWITHKEY|1|1|1|5"]
    assert await r.store.entry("caller-1") is None
    assert HOLD not in r.rest.bridges, "the last caller out takes the holding bridge down"
    assert "caller-1" not in r.acd.sessions
    assert r.rest.hung_up == [], "the flow goes on with the caller"


async def test_max_wait_times_out(r: Rig) -> None:
    await paused_agent(r)
    who = caller(r)
    task = join(r, who)
    await holding(r, who)
    r.clock.advance(29)
    assert await still_waiting(task)
    r.clock.advance(2)
    assert await task == Left("timeout")
    assert await r.lines("EXITWITHTIMEOUT") == ["caller-1|sales|NONE|EXITWITHTIMEOUT|1|1|31"]
    assert await r.store.entry("caller-1") is None


async def test_the_flows_own_max_wait_when_it_is_shorter(r: Rig) -> None:
    await paused_agent(r)
    who = caller(r)
    task = asyncio.create_task(wait(r.acd, who, QueueRequest("sales", max_wait=10)),
                               name="call-caller-1")
    await holding(r, who)
    r.clock.advance(10)
    assert await task == Left("timeout")


async def test_the_last_agent_logging_out_empties_the_queue(r: Rig) -> None:
    await paused_agent(r)
    who = caller(r)
    task = join(r, who)
    await holding(r, who)
    r.clock.advance(8)
    await r.acd.logout("a1")
    assert await task == Left("no_agents")
    assert await r.lines("EXITEMPTY") == ["caller-1|sales|NONE|EXITEMPTY|1|1|8"]


async def test_a_hangup_while_waiting_is_an_abandon(r: Rig) -> None:
    await paused_agent(r)
    who = caller(r)
    task = join(r, who)
    await holding(r, who)
    r.clock.advance(7)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await r.lines("ABANDON", "COMPLETECALLER") == [
        "caller-1|sales|NONE|ABANDON|1|1|7"]
    assert await r.store.entry("caller-1") is None
    assert "caller-1" not in r.acd.sessions


async def test_a_hangup_while_ringing_cancels_the_ring(r: Rig) -> None:
    await r.acd.login("a1")
    who = caller(r)
    task = join(r, who)
    agent_channel = await rung(r)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert agent_channel in r.rest.hung_up, "the agent's phone stops ringing"
    assert [e.event for e in await r.logged("RINGCANCELED", "RINGNOANSWER", "ABANDON")] == [
        "RINGCANCELED", "ABANDON"]
    agent = r.acd.agent("a1")
    assert (agent.state, agent.missed_in_row) == (AgentState.AVAILABLE, 0)


# -- announcements ---------------------------------------------------------------------------


async def announced(r: Rig, language: str, handle_times: list[float],
                    callers: int = 1) -> list[str]:
    """What the last of `callers` hears, with a1 busy on another call."""
    await r.acd.login("a1")
    await r.acd.answered(r.acd.agent("a1"), "other-call")
    for seconds in handle_times:
        r.acd.record_handle_time("sales", seconds)
    whos = [caller(r, f"c{n}", language) for n in range(1, callers + 1)]
    for who in whos:
        join(r, who)
        await holding(r, who)
    session: QueueSession = r.acd.sessions[whos[-1].id]
    return session.announcement()


@pytest.mark.parametrize(("language", "twelve"), [("ko", ["num-10", "num-2"]),
                                                  ("en", ["num-12"])])
async def test_the_announcement_says_position_and_wait(r: Rig, language: str,
                                                       twelve: list[str]) -> None:
    ids = await announced(r, language, [700, 720, 740])
    assert ids == ["queue-position", "num-1", "queue-position-end",
                   "queue-wait", *twelve, "queue-wait-end", "queue-thanks"]


async def test_the_second_caller_waits_for_two_calls(r: Rig) -> None:
    ids = await announced(r, "en", [120, 120, 120], callers=2)
    assert ids == ["queue-position", "num-2", "queue-position-end",
                   "queue-wait", "num-4", "queue-wait-end", "queue-thanks"]


async def test_a_wait_under_a_minute_is_not_announced(r: Rig) -> None:
    ids = await announced(r, "ko", [30, 40, 50])
    assert ids == ["queue-position", "num-1", "queue-position-end", "queue-thanks"]


async def test_no_wait_is_announced_without_enough_handle_times(r: Rig) -> None:
    ids = await announced(r, "ko", [600, 600])
    assert "queue-wait" not in ids


async def test_a_very_long_wait_is_said_as_thirty_minutes_or_more(r: Rig) -> None:
    ids = await announced(r, "en", [3600, 3600, 3600])
    assert ids[3:] == ["queue-wait-long", "num-30", "queue-wait-long-end", "queue-thanks"]


async def test_the_holding_bridge_stays_while_someone_waits(r: Rig) -> None:
    await paused_agent(r)
    first, second = caller(r, "c1"), caller(r, "c2")
    first_task = join(r, first)
    await holding(r, first)
    second_task = join(r, second)
    await holding(r, second)
    first.digits.put_nowait("1")
    assert await first_task == Left("callback")
    assert r.rest.bridges[HOLD] == ["c2"], "the music goes on for the caller still waiting"
    second.digits.put_nowait("1")
    assert await second_task == Left("callback")
    assert HOLD not in r.rest.bridges
