"""The ACD engine's agents (services/acd/engine.py): login, logout, pause and unpause with
their member events in the queue log; a pause or logout asked during a call, applied when the
call and its wrap-up end; auto-pause after missed offers in a row; and the agent's desktops
hearing its state changes. On the ACD's fakes (fakes.py), with engine_helpers.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ivr.services.acd.agents import AgentState
from ivr.services.acd.engine import AUTO_PAUSE_REASON, AgentError

from .engine_helpers import STATES, on_call, queue, state
from .fakes import T0, Rig, eventually, rig


@pytest.fixture
async def r(tmp_path: Path) -> AsyncIterator[Rig]:
    async with rig(tmp_path, STATES) as it:
        yield it


# -- login, logout, pause, unpause -----------------------------------------------------------


async def test_login_makes_the_agent_available_and_a_member_of_each_of_its_queues(r: Rig) -> None:
    r.clock.advance(5)
    agent = await r.acd.login("a1")
    assert state(r, agent.id) is AgentState.AVAILABLE
    assert agent.logged_in_at == agent.idle_since == T0 + 5
    assert await r.lines() == ["NONE|sales|PJSIP/a1|ADDMEMBER", "NONE|support|PJSIP/a1|ADDMEMBER"]
    assert [row.state for row in await r.store.agents()] == ["available"]


async def test_login_twice_changes_nothing(r: Rig) -> None:
    await r.acd.login("a1")
    r.clock.advance(60)
    again = await r.acd.login("a1")
    assert again.logged_in_at == T0, "the second login must not restart the session"
    assert len(await r.logged("ADDMEMBER")) == 2


async def test_an_agent_in_no_queue_is_logged_with_queue_none(r: Rig) -> None:
    await r.acd.login("a3")
    assert await r.lines() == ["NONE|NONE|PJSIP/a3|ADDMEMBER"]


async def test_logout_removes_the_member_from_each_queue(r: Rig) -> None:
    await r.acd.login("a1")
    agent = await r.acd.logout("a1")
    assert state(r, agent.id) is AgentState.LOGGED_OUT and agent.logged_in_at is None
    assert await r.lines("REMOVEMEMBER") == ["NONE|sales|PJSIP/a1|REMOVEMEMBER",
                                             "NONE|support|PJSIP/a1|REMOVEMEMBER"]
    await r.acd.logout("a1")
    assert len(await r.logged("REMOVEMEMBER")) == 2, "logging out twice logs once"


async def test_pause_with_a_reason_then_unpause(r: Rig) -> None:
    await r.acd.login("a2")
    paused = await r.acd.pause("a2", "lunch")
    assert paused.state is AgentState.PAUSED and paused.pause_reason == "lunch"
    assert await r.lines("PAUSE") == ["NONE|sales|PJSIP/a2|PAUSE|lunch"]
    await r.acd.pause("a2", "lunch")
    assert len(await r.logged("PAUSE")) == 1, "the same pause again is not a new event"

    r.clock.advance(300)
    back = await r.acd.unpause("a2")
    assert back.state is AgentState.AVAILABLE and back.pause_reason == ""
    assert back.idle_since == T0 + 300, "an unpaused agent is idle from now on"
    assert await r.lines("UNPAUSE") == ["NONE|sales|PJSIP/a2|UNPAUSE|lunch"]


async def test_pause_of_a_logged_out_agent_is_refused(r: Rig) -> None:
    with pytest.raises(AgentError, match="not logged in"):
        await r.acd.pause("a1", "lunch")
    assert state(r, "a1") is AgentState.LOGGED_OUT
    assert await r.logged() == []


@pytest.mark.parametrize("action", ["login", "logout", "pause", "unpause"])
async def test_an_unknown_agent_is_refused(r: Rig, action: str) -> None:
    with pytest.raises(AgentError, match="unknown agent 'zz'"):
        await getattr(r.acd, action)("zz")
    assert await r.store.agents() == []


# -- pending pause and logout ----------------------------------------------------------------


async def test_pause_during_a_call_waits_for_the_end_of_wrap_up(r: Rig) -> None:
    await r.acd.login("a1")
    agent = r.acd.agent("a1")
    await r.acd.reserve([agent], "c1")
    await r.acd.pause("a1", "coaching")
    assert state(r, agent.id) is AgentState.RINGING and agent.pending == "pause:coaching"

    await r.acd.answered(agent, "c1")
    await r.acd.pause("a1", "coaching")
    assert state(r, agent.id) is AgentState.ON_CALL

    await r.acd.call_ended(agent, queue(r, "sales"), "c1")
    assert state(r, agent.id) is AgentState.WRAP_UP, "not paused before wrap-up ends"
    assert await r.logged("PAUSE") == []

    await eventually(lambda: agent.state is AgentState.PAUSED)
    assert agent.pause_reason == "coaching" and agent.pending == ""
    assert [e.event for e in await r.logged("ACW", "PAUSE")] == ["ACW", "PAUSE", "PAUSE"]


async def test_pause_during_a_ring_applies_when_the_ring_fails(r: Rig) -> None:
    await r.acd.login("a2")
    agent = r.acd.agent("a2")
    await r.acd.reserve([agent], "c1")
    await r.acd.pause("a2", "break")
    await r.acd.ring_failed(agent, queue(r, "sales"), "c1", 3000)
    assert state(r, agent.id) is AgentState.PAUSED and agent.pause_reason == "break"


async def test_unpause_during_a_call_cancels_the_pending_pause(r: Rig) -> None:
    await r.acd.login("a2")
    agent = await on_call(r, "a2")
    await r.acd.pause("a2", "break")
    await r.acd.unpause("a2")
    assert agent.pending == "" and agent.state is AgentState.ON_CALL
    await r.acd.call_ended(agent, queue(r, "sales"), "c1")
    await eventually(lambda: agent.state is AgentState.AVAILABLE)
    assert await r.logged("PAUSE", "UNPAUSE") == []


async def test_logout_during_a_call_waits_for_the_end_of_wrap_up(r: Rig) -> None:
    await r.acd.login("a2")
    agent = await on_call(r, "a2")
    await r.acd.logout("a2")
    assert state(r, agent.id) is AgentState.ON_CALL and agent.pending == "logout"
    assert await r.logged("REMOVEMEMBER") == []
    await r.acd.call_ended(agent, queue(r, "sales"), "c1")
    assert state(r, agent.id) is AgentState.WRAP_UP
    await eventually(lambda: agent.state is AgentState.LOGGED_OUT)
    assert await r.lines("REMOVEMEMBER") == ["NONE|sales|PJSIP/a2|REMOVEMEMBER"]


# -- missed offers ---------------------------------------------------------------------------


async def test_missed_offers_in_a_row_pause_the_agent(r: Rig) -> None:
    sales = queue(r, "sales")
    await r.acd.login("a1")
    agent = r.acd.agent("a1")

    await r.acd.reserve([agent], "c1")
    await r.acd.ring_failed(agent, sales, "c1", 15000)
    assert state(r, agent.id) is AgentState.AVAILABLE and agent.missed_in_row == 1

    await r.acd.reserve([agent], "c2")
    await r.acd.ring_failed(agent, sales, "c2", 4000, answered_elsewhere=True)
    assert state(r, agent.id) is AgentState.AVAILABLE
    assert agent.missed_in_row == 1, "losing a ring-all race is not a miss"

    await r.acd.reserve([agent], "c3")
    await r.acd.ring_failed(agent, sales, "c3", 15000)
    assert state(r, agent.id) is AgentState.PAUSED and agent.pause_reason == AUTO_PAUSE_REASON
    assert await r.lines("RINGNOANSWER", "RINGCANCELED", "PAUSE") == [
        "c1|sales|PJSIP/a1|RINGNOANSWER|15000",
        "c2|sales|PJSIP/a1|RINGCANCELED|4000",
        "c3|sales|PJSIP/a1|RINGNOANSWER|15000",
        "NONE|sales|PJSIP/a1|PAUSE|auto:no-answer",
        "NONE|support|PJSIP/a1|PAUSE|auto:no-answer",
    ]


async def test_an_answered_offer_resets_the_misses(r: Rig) -> None:
    sales = queue(r, "sales")
    await r.acd.login("a2")
    agent = r.acd.agent("a2")
    await r.acd.reserve([agent], "c1")
    await r.acd.ring_failed(agent, sales, "c1", 15000)
    await on_call(r, "a2", "c2")
    assert agent.missed_in_row == 0 and agent.calls_taken == 1
    await r.acd.call_ended(agent, sales, "c2")
    await eventually(lambda: agent.state is AgentState.AVAILABLE)

    await r.acd.reserve([agent], "c3")
    await r.acd.ring_failed(agent, sales, "c3", 15000)
    assert state(r, agent.id) is AgentState.AVAILABLE, "one miss since the answer is not two"
    assert agent.missed_in_row == 1


async def test_a_logout_asked_during_a_ring_wins_over_auto_pause(r: Rig) -> None:
    """The agent (or a supervisor) asked to log out while the phone rang; the ring then hits
    the auto-pause limit. The agent must end up logged out, and no stale 'logout' may stay
    pending (it would log the agent out at the end of some later call)."""
    sales = queue(r, "sales")
    await r.acd.login("a2")
    agent = r.acd.agent("a2")
    await r.acd.reserve([agent], "c1")
    await r.acd.ring_failed(agent, sales, "c1", 15000)
    await r.acd.reserve([agent], "c2")
    await r.acd.logout("a2")
    await r.acd.ring_failed(agent, sales, "c2", 15000)
    assert (agent.state, agent.pending) == (AgentState.LOGGED_OUT, "")
    assert await r.logged("PAUSE") == []


# -- desktops --------------------------------------------------------------------------------


async def test_a_listener_gets_the_agents_state_changes_until_it_stops(r: Rig) -> None:
    desk = r.acd.desktops.listen("a1")
    other = r.acd.desktops.listen("a2")
    await r.acd.login("a1")
    await r.acd.pause("a1", "lunch")
    got = [desk.get_nowait().to_json(), desk.get_nowait().to_json()]
    assert [(m["type"], m["id"], m["state"]) for m in got] == [
        ("agent_state", "a1", "available"), ("agent_state", "a1", "paused")]
    assert got[1]["pause_reason"] == "lunch"
    assert other.empty(), "only the agent's own desktops hear about it"

    r.acd.desktops.unlisten("a1", desk)
    await r.acd.unpause("a1")
    assert desk.empty()
