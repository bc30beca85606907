"""The ACD engine: agents' states and member events, pending pause/logout, auto-pause after
missed offers, wrap-up, restart, the dispatcher's choice of agents, and desktop messages.

Each test runs an Acd on a real SQLite database and a fake ARI (fakes.py); the clock is fake
and only moves when a test moves it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ivr.services.acd import engine
from ivr.services.acd.agents import Agent, AgentState
from ivr.services.acd.config import QueueConfig
from ivr.services.acd.dispatch import RETRY_AFTER
from ivr.services.acd.engine import AUTO_PAUSE_REASON, AgentError
from ivr.services.acd.entries import EntryView
from ivr.services.acd.store import EntryState

from .fakes import T0, Rig, eventually, rig

STATES = """
agents:
  a1: {name: Ann, endpoint: PJSIP/a1}
  a2: {name: Bob, endpoint: PJSIP/a2}
  a3: {name: Cid, endpoint: PJSIP/a3}
queues:
  sales: {members: [a1, a2], wrapup: 0.05, auto_pause_after: 2}
  support: {members: [a1], wrapup: 7}
"""
"""a1 serves two queues, a2 one, a3 none. sales wraps up in 50 ms; support's 7 s wrap-up is
only used with `fast_sleep`."""

DISPATCH = """
agents:
  a1: {name: Ann, endpoint: PJSIP/a1, skills: {billing: 0}}
  a2: {name: Bob, endpoint: PJSIP/a2, skills: {billing: 3}}
  a3: {name: Cid, endpoint: PJSIP/a3}
queues:
  idle: {strategy: longest_idle, members: [a1, a2, a3]}
  all: {strategy: ring_all, members: [a3, a1, a2]}
  billing:
    strategy: skills
    skills: [billing]
    widen: [{after: 0, max_penalty: 0}, {after: 30, max_penalty: 5}]
"""


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


def state(r: Rig, agent_id: str) -> AgentState:
    return r.acd.agent(agent_id).state


async def on_call(r: Rig, agent_id: str, call_id: str = "c1") -> Agent:
    """An offer the agent answered."""
    agent = r.acd.agent(agent_id)
    await r.acd.reserve([agent], call_id)
    await r.acd.answered(agent, call_id)
    return agent


def queue(r: Rig, name: str) -> QueueConfig:
    return r.acd.config().queues[name]


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


# -- dispatching -----------------------------------------------------------------------------


@dataclass
class Waiting:
    """What dispatch() reads of a QueueSession (an entries.QueueEntry), and a record of what
    it offered."""

    id: str
    queue: QueueConfig
    order: tuple[float, ...]
    entered_at: float = T0
    offerable: bool = True
    tried: set[str] = field(default_factory=set)
    last_try: float = 0.0
    offers: list[list[str]] = field(default_factory=list)
    claims_agents: bool = True
    holds: bool = True
    state: EntryState = EntryState.WAITING

    def offer(self, group: Sequence[Agent]) -> None:
        self.offers.append([a.id for a in group])
        self.offerable = False
        self.state = EntryState.RINGING

    def position(self) -> int:
        raise AssertionError("dispatch() does not ask for a position")

    def view(self, now: float) -> EntryView:
        raise AssertionError("dispatch() does not ask for a view")

    def refresh_place(self) -> None:
        """Nobody on the line."""


@pytest.fixture
async def d(tmp_path: Path) -> AsyncIterator[Rig]:
    """Agents a1, a2, a3 logged in 20, 10 and 0 s ago (a1 idle longest)."""
    async with rig(tmp_path, DISPATCH) as it:
        for agent_id in ("a1", "a2", "a3"):
            await it.acd.login(agent_id)
            it.clock.advance(10)
        yield it


def waiting(r: Rig, queue_name: str, *sessions: tuple[str, tuple[int, int]]) -> list[Waiting]:
    found = [Waiting(sid, queue(r, queue_name), order) for sid, order in sessions]
    for session in found:
        r.acd.sessions[session.id] = session
    return found


async def test_longest_idle_offers_best_caller_first_to_the_longest_idle(d: Rig) -> None:
    later_but_urgent, first = waiting(d, "idle", ("c2", (-5, 2)), ("c1", (0, 1)))
    await d.acd.dispatch()
    assert later_but_urgent.offers == [["a1"]]
    assert first.offers == [["a2"]]
    assert (state(d, "a1"), d.acd.agent("a1").call_id) == (AgentState.RINGING, "c2")
    assert (state(d, "a2"), d.acd.agent("a2").call_id) == (AgentState.RINGING, "c1")
    assert state(d, "a3") is AgentState.AVAILABLE
    assert [row.state for row in await d.store.agents()] == ["ringing", "ringing", "available"]


async def test_customer_first_callbacks_take_no_agent_and_dial_no_more_than_are_free(
        d: Rig) -> None:
    await d.acd.pause("a2")
    await d.acd.pause("a3")
    first, second, caller = waiting(d, "idle", ("cb1", (0, 1)), ("cb2", (0, 2)), ("c3", (0, 3)))
    first.claims_agents = second.claims_agents = False
    await d.acd.dispatch()
    assert first.offers == [[]], "dialled with no agent reserved"
    assert second.offers == [], "one agent free: one customer dialled at a time"
    assert caller.offers == [["a1"]], "the free agent still takes the next caller"
    assert state(d, "a1") is AgentState.RINGING


async def test_ring_all_offers_every_free_member_to_one_caller(d: Rig) -> None:
    first, second = waiting(d, "all", ("c1", (0, 1)), ("c2", (0, 2)))
    await d.acd.dispatch()
    assert first.offers == [["a3", "a1", "a2"]], "in member order"
    assert second.offers == [], "nobody is left for the second caller"
    assert {a.state for a in d.acd.agents.values()} == {AgentState.RINGING}
    assert "all" not in d.acd.last_agent


async def test_skills_offers_within_the_allowed_penalty_widening_with_the_wait(d: Rig) -> None:
    old, new = waiting(d, "billing", ("c1", (0, 1)), ("c2", (0, 2)))
    old.entered_at = d.clock() - 40
    new.entered_at = d.clock()
    await d.acd.dispatch()
    assert old.offers == [["a1"]], "the lowest penalty first"
    assert new.offers == [], "a2's penalty 3 is above 0 for a caller who just came"
    assert state(d, "a2") is AgentState.AVAILABLE
    assert state(d, "a3") is AgentState.AVAILABLE, "a3 lacks the skill"

    d.clock.advance(30)
    await d.acd.dispatch()
    assert new.offers == [["a2"]]


async def test_unreachable_phones_are_not_offered(d: Rig) -> None:
    d.rest.endpoints["PJSIP/a1"] = ("offline", ())
    d.rest.endpoints["PJSIP/a2"] = ("online", ("someone-else",))
    first, second = waiting(d, "idle", ("c1", (0, 1)), ("c2", (0, 2)))
    await d.acd.dispatch()
    assert first.offers == [["a3"]]
    assert second.offers == []
    assert (state(d, "a1"), state(d, "a2")) == (AgentState.AVAILABLE, AgentState.AVAILABLE)
    for agent_id in ("a1", "a2", "a3"):
        assert len(d.rest.sent("GET", f"/endpoints/PJSIP/{agent_id}")) == 1, (
            "an endpoint is looked up once per pass, however many callers wait")


async def test_an_endpoint_asterisk_cannot_find_is_not_offered(d: Rig) -> None:
    d.rest.fail("GET", "/endpoints/PJSIP/a1", 404)
    (caller,) = waiting(d, "idle", ("c1", (0, 1)))
    await d.acd.dispatch()
    assert caller.offers == [["a2"]]


async def test_callers_not_offerable_are_skipped(d: Rig) -> None:
    ringing, next_one = waiting(d, "idle", ("c1", (0, 1)), ("c2", (0, 2)))
    ringing.offerable = False
    await d.acd.dispatch()
    assert ringing.offers == []
    assert next_one.offers == [["a1"]]


async def test_agents_already_tried_wait_until_the_others_are_tried(d: Rig) -> None:
    (caller,) = waiting(d, "idle", ("c1", (0, 1)))
    caller.tried = {"a1"}
    caller.last_try = d.clock() - 60
    await d.acd.dispatch()
    assert caller.offers == [["a2"]], "a1 idles longest but was tried"
    assert caller.tried == {"a1"}


async def test_tried_agents_are_retried_after_retry_after(d: Rig) -> None:
    await d.acd.logout("a2")
    await d.acd.logout("a3")
    (caller,) = waiting(d, "idle", ("c1", (0, 1)))
    caller.tried = {"a1"}
    caller.last_try = d.clock() - (RETRY_AFTER - 0.5)
    await d.acd.dispatch()
    assert caller.offers == [], "not again so soon"
    assert state(d, "a1") is AgentState.AVAILABLE

    d.clock.advance(0.5)
    await d.acd.dispatch()
    assert caller.offers == [["a1"]]
    assert caller.tried == set()


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
