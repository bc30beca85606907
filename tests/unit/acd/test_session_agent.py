"""A caller's wait in a queue (session.wait) once an agent is rung: the agent answers and
is bridged with the caller, either side hangs up, an agent who does not answer; the agent
transferring the caller to another queue or to an extension; and no subscription left behind
by a wait, an answered call or a declined ring. On the ACD's fakes (fakes.py), with
session_helpers.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ivr.ari import ChannelDtmfReceived, ChannelHangupRequest
from ivr.services.acd.agents import AgentState
from ivr.services.acd.results import Served, TransferredOut

from .fakes import Rig, eventually
from .session_helpers import (
    HOLD,
    NUMBER,
    caller,
    connected,
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
