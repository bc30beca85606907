"""A caller's wait in a queue (session.wait): joining or not, leaving by key, timeout or
empty queue, hanging up, an agent answering, hanging up and transferring, announcements.

The Acd runs (its dispatcher rings agents) on a real SQLite database and a fake ARI
(fakes.py). Agents' phones answer when the test sends their channel a StasisStart; the clock
is fake, so waits and talk times are whatever the test says.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ivr.ari import ChannelDtmfReceived, ChannelHangupRequest, StasisStart
from ivr.services.acd.agents import AgentState
from ivr.services.acd.results import Left, QueueResult, Served, TransferredOut, UnknownQueue
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


@pytest.fixture
async def r(tmp_path: Path) -> AsyncIterator[Rig]:
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


# -- an agent answers ------------------------------------------------------------------------


async def test_an_agent_answers_and_later_hangs_up(r: Rig) -> None:
    await r.acd.login("a1")
    desk = r.acd.desktops.listen("a1")
    who = caller(r)
    task = join(r, who)
    agent_channel = await rung(r)
    assert agent_channel.startswith("acd-a1-")
    dial = r.rest.sent("POST", f"/channels/{agent_channel}")[0].params
    assert (dial["app"], dial["appArgs"]) == ("ivr", "acd-agent,caller-1")
    assert r.acd.agent("a1").state is AgentState.RINGING
    pops = [m for m in (desk.get_nowait().to_json() for _ in range(desk.qsize()))
            if m["type"] == "screen_pop"]
    assert [(p["call_id"], p["caller"], p["queue"]) for p in pops] == [
        ("caller-1", NUMBER, "sales")]

    r.clock.advance(4)
    await connected(r, who, agent_channel)
    call_bridge = "acd-call-caller-1"
    assert r.rest.bridge_types[call_bridge] == "mixing,dtmf_events"
    assert r.rest.bridges[call_bridge] == ["caller-1", agent_channel]
    assert HOLD not in r.rest.bridges, "nobody else waits: the holding bridge and its music go"
    assert r.acd.agent("a1").state is AgentState.ON_CALL
    assert await r.lines("CONNECT") == [f"caller-1|sales|PJSIP/a1|CONNECT|4|{agent_channel}|4"]
    entry = await r.store.entry("caller-1")
    assert entry is not None and (entry.state, entry.agent_id) == ("connected", "a1")

    r.clock.advance(60)
    r.client.channel_event(ChannelHangupRequest, agent_channel)
    assert await task == Served()
    assert await r.lines("COMPLETEAGENT", "COMPLETECALLER") == [
        "caller-1|sales|PJSIP/a1|COMPLETEAGENT|4|60|1"]
    assert "caller-1" in r.rest.hung_up and who.hangup_by == "agent"
    assert r.acd.agent("a1").state is AgentState.WRAP_UP
    assert call_bridge not in r.rest.bridges, "the call's bridge is destroyed"
    assert await r.store.entry("caller-1") is None
    assert r.acd.handle_times("sales") == [120.0], "talk plus wrap-up"


async def test_a_caller_hanging_up_during_the_call_completes_it(r: Rig) -> None:
    await r.acd.login("a1")
    who = caller(r)
    task = join(r, who)
    agent_channel = await rung(r)
    r.clock.advance(4)
    await connected(r, who, agent_channel)
    r.clock.advance(20)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await r.lines("COMPLETECALLER", "COMPLETEAGENT", "ABANDON") == [
        "caller-1|sales|PJSIP/a1|COMPLETECALLER|4|20|1"]
    assert agent_channel in r.rest.hung_up, "the agent's leg is hung up"
    assert "caller-1" not in r.rest.hung_up, "the caller is already gone"
    assert r.acd.agent("a1").state is AgentState.WRAP_UP
    assert await r.store.entry("caller-1") is None


async def test_an_agent_not_answering_is_a_ring_no_answer(r: Rig) -> None:
    await r.acd.login("a1")
    who = caller(r)
    task = join(r, who)
    agent_channel = await rung(r)
    r.client.channel_event(ChannelHangupRequest, agent_channel)  # declined on the phone
    await eventually(lambda: r.acd.agent("a1").state is AgentState.AVAILABLE)
    assert [e.event for e in await r.logged("RINGNOANSWER", "RINGCANCELED")] == ["RINGNOANSWER"]
    assert r.acd.agent("a1").missed_in_row == 1
    session = r.acd.sessions["caller-1"]
    await eventually(lambda: session.state == "waiting")
    assert session.tried == {"a1"}
    assert await still_waiting(task)
    assert len(r.rest.originated) == 1, "not rung again before RETRY_AFTER"


# -- transfers -------------------------------------------------------------------------------


def dtmf(r: Rig, channel: str, digits: str) -> None:
    for digit in digits:
        r.client.channel_event(ChannelDtmfReceived, channel, digit=digit)


async def test_an_agent_transfers_to_another_queue(r: Rig) -> None:
    await r.acd.login("a1")
    who = caller(r)
    task = join(r, who)
    agent_channel = await rung(r)
    r.clock.advance(4)
    await connected(r, who, agent_channel)
    r.clock.advance(10)
    dtmf(r, agent_channel, "1##2#")
    session = await holding(r, who, "care")
    assert session.queue.name == "care"
    assert await r.lines("TRANSFER", "ENTERQUEUE", "COMPLETEAGENT") == [
        f"caller-1|sales|NONE|ENTERQUEUE||{NUMBER}",
        "caller-1|sales|PJSIP/a1|TRANSFER|2|queue:care|4|10|1",
        f"caller-1|care|NONE|ENTERQUEUE||{NUMBER}"]
    assert agent_channel in r.rest.hung_up
    assert "caller-1" not in r.rest.hung_up, "the caller stays, now in care"
    assert r.acd.agent("a1").state is AgentState.WRAP_UP
    entry = await r.store.entry("caller-1")
    assert entry is not None and (entry.queue, entry.state) == ("care", "waiting")
    assert not task.done()


async def test_an_agent_transfers_to_an_extension(r: Rig) -> None:
    await r.acd.login("a1")
    who = caller(r)
    task = join(r, who)
    agent_channel = await rung(r)
    await connected(r, who, agent_channel)
    dtmf(r, agent_channel, "##1234#")
    assert await task == TransferredOut("1234")
    assert r.rest.sent("POST", "/channels/caller-1/continue")[0].params == {
        "context": "ivr-extensions", "extension": "1234", "priority": 1}
    assert who.hangup_by == "transfer" and "caller-1" not in r.rest.hung_up
    assert [e.data[:2] for e in await r.logged("TRANSFER")] == [("1234", "ivr-extensions")]


# -- what a finished wait leaves behind ------------------------------------------------------


async def test_a_finished_wait_leaves_no_subscription_behind(r: Rig) -> None:
    """Every bridge and channel subscription a wait opens is closed when it ends; otherwise
    the router keeps queueing their events (every caller entering or leaving the holding
    bridge) for nobody, for as long as the process runs."""
    await paused_agent(r)
    who = caller(r)
    task = join(r, who)
    await holding(r, who)
    who.digits.put_nowait("1")
    await task
    assert r.client.router.subscribed_keys() == set(), (
        "session._hold discards the BridgeHandle bridges.create() returns, and with it an "
        "open subscription to bridge:acd-hold-sales that nobody reads or closes")


async def test_an_answered_call_leaves_no_subscription_behind(r: Rig) -> None:
    await r.acd.login("a1")
    who = caller(r)
    task = join(r, who)
    agent_channel = await rung(r)
    await connected(r, who, agent_channel)
    r.client.channel_event(ChannelHangupRequest, agent_channel)
    await task
    left = r.client.router.subscribed_keys()
    assert "bridge:acd-call-caller-1" not in left, (
        "session._release destroys the call's bridge but never closes self.bridge.events")


async def test_a_declined_ring_leaves_no_subscription_behind(r: Rig) -> None:
    await r.acd.login("a1")
    who = caller(r)
    task = join(r, who)
    agent_channel = await rung(r)
    r.client.channel_event(ChannelHangupRequest, agent_channel)
    await eventually(lambda: r.acd.sessions["caller-1"].state == "waiting")
    assert f"channel:{agent_channel}" not in r.client.router.subscribed_keys(), (
        "ringing.ring_group closes the subscriptions of the legs it hangs up, not of the legs "
        "that ended by themselves (the `settled` agents)")
    task.cancel()


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
