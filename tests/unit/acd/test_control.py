"""The agent's desktop controlling its call (control.py, QueueSession.command): hold and back,
blind transfer to a queue or an extension, commands that come too late or for no call, and a
held caller after a restart. On the ACD's fakes (fakes.py), with session_helpers.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ivr.ari import ChannelHangupRequest
from ivr.services.acd.agents import AgentState
from ivr.services.acd.control import CallControlError, Hold, Transfer, Unhold, check_target
from ivr.services.acd.desktop import CallHold
from ivr.services.acd.results import TransferredOut
from ivr.services.acd.session import QueueSession, conversation_of

from .fakes import Rig, eventually
from .session_helpers import NUMBER, caller, connected, holding, join, queue_rig, rung


@pytest.fixture
async def r(tmp_path: Path) -> AsyncIterator[Rig]:
    async with queue_rig(tmp_path) as it:
        yield it


async def talking(r: Rig) -> tuple[str, asyncio.Task[object]]:
    """caller-1 in sales, connected with a1: (a1's channel, the caller's flow task)."""
    await r.acd.login("a1")
    who = caller(r)
    task = join(r, who)
    agent_channel = await rung(r)
    await connected(r, who, agent_channel)
    return agent_channel, task  # type: ignore[return-value]


async def test_hold_takes_the_caller_out_to_music_and_back_into_the_same_bridge(
        r: Rig) -> None:
    agent_channel, task = await talking(r)
    desk = r.acd.desktops.listen("a1")
    bridge = "acd-call-caller-1"
    assert set(r.rest.bridges[bridge]) == {"caller-1", agent_channel}

    assert await conversation_of(r.acd, "a1").command(Hold()) == "held"
    assert r.rest.bridges[bridge] == [agent_channel], "the agent alone: hears nobody"
    assert r.rest.sent("POST", "/channels/caller-1/moh")[0].params == {"mohClass": "default"}
    assert await conversation_of(r.acd, "a1").command(Hold()) == "held"  # twice: no change
    assert len(r.rest.sent("POST", "/channels/caller-1/moh")) == 1

    assert await conversation_of(r.acd, "a1").command(Unhold()) == "talking"
    assert set(r.rest.bridges[bridge]) == {"caller-1", agent_channel}
    assert r.rest.sent("DELETE", "/channels/caller-1/moh")
    assert [desk.get_nowait() for _ in range(desk.qsize())] == [
        CallHold("caller-1", True), CallHold("caller-1", False)]
    assert not task.done()


async def test_a_desktop_transfer_to_a_queue_requeues_the_caller_off_hold(r: Rig) -> None:
    agent_channel, task = await talking(r)
    session = conversation_of(r.acd, "a1")
    await session.command(Hold())
    assert await session.command(Transfer("2")) == "requeued"
    moved = await holding(r, session.caller, "care")  # type: ignore[arg-type]
    assert moved.queue.name == "care" and not moved.held
    assert len(r.rest.sent("DELETE", "/channels/caller-1/moh")) == 1, "music off first"
    assert [e.data[:2] for e in await r.logged("TRANSFER")] == [("2", "queue:care")]
    assert agent_channel in r.rest.hung_up and "caller-1" not in r.rest.hung_up
    assert r.acd.agent("a1").state is AgentState.WRAP_UP
    assert not task.done()


async def test_a_desktop_transfer_to_an_extension_leaves_the_ivr(r: Rig) -> None:
    _, task = await talking(r)
    assert await conversation_of(r.acd, "a1").command(Transfer("1234")) == "transferred"
    assert await task == TransferredOut("1234")
    assert r.rest.sent("POST", "/channels/caller-1/continue")[0].params == {
        "context": "ivr-extensions", "extension": "1234", "priority": 1}


async def test_no_call_no_command_and_a_call_that_ends_fails_what_is_queued(r: Rig) -> None:
    with pytest.raises(CallControlError, match="no queued call"):
        conversation_of(r.acd, "a1")
    agent_channel, task = await talking(r)
    session = conversation_of(r.acd, "a1")
    r.rest.fail("POST", "/bridges/acd-call-caller-1/removeChannel", 500)
    with pytest.raises(CallControlError, match="caller-1"):
        await session.command(Hold())  # ARI refused: said, and the call goes on
    assert not session.held and not task.done()

    r.client.channel_event(ChannelHangupRequest, agent_channel)
    pending = session.command(Hold())  # queued as the agent hangs up
    await task
    with pytest.raises(CallControlError, match=r"ended|not in a conversation"):
        await pending
    with pytest.raises(CallControlError, match="not in a conversation"):
        session.command(Unhold())
    with pytest.raises(CallControlError):
        conversation_of(r.acd, "a1")


@pytest.mark.parametrize("target", ["", "12#", "abc", "1" * 21, 12, None])
def test_a_transfer_target_is_what_a_phone_could_key(target: object) -> None:
    with pytest.raises(CallControlError, match="0-9 and"):
        check_target(target)


def test_good_transfer_targets_pass() -> None:
    assert check_target("2") == "2" and check_target("*7" + "0" * 18) == "*7" + "0" * 18


async def test_after_a_restart_a_held_caller_is_put_back_with_the_agent(
        tmp_path: Path) -> None:
    async with queue_rig(tmp_path) as r:
        agent_channel, _ = await talking(r)
        await conversation_of(r.acd, "a1").command(Hold())
        r.acd.stopping = True  # as stop() does: the sessions leave their rows for the next one
        bridges = dict(r.rest.bridges)
    async with queue_rig(tmp_path) as again:
        again.rest.bridges.update(bridges)
        row = await again.store.entry("caller-1")
        assert row is not None and row.state == "connected"
        task = join(again, caller(again))  # the restarted app takes the caller back
        await eventually(lambda: "caller-1" in again.rest.bridges.get("acd-call-caller-1", []))
        # the caller is back in the bridge while the adoption is still under way: the
        # conversation is the agent's once the session has marked it connected
        await eventually(lambda: (s := again.acd.sessions.get("caller-1")) is not None
                         and isinstance(s, QueueSession) and s.connected.is_set())
        assert again.rest.sent("DELETE", "/channels/caller-1/moh")
        assert conversation_of(again.acd, "a1").caller.caller == NUMBER
        assert not again.rest.sent("POST", "/channels/caller-1/moh")
        assert agent_channel in again.rest.bridges["acd-call-caller-1"]
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
