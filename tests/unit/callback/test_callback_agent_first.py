"""Serving an agent-first callback (services/callback/serve.py): the agent is rung and
briefed (with the voicemail the callback came from), then the customer is dialled and bridged;
a busy customer, a number put on the do-not-call list after booking, the agent hanging up or not
answering, and a cancel or a stop while a phone rings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from ivr.ari import ChannelDestroyed, ChannelHangupRequest, StasisStart
from ivr.services.acd.agents import AgentState
from ivr.services.acd.control import CallControlError, Hold, Transfer, Unhold
from ivr.services.acd.desktop import CallHold
from ivr.services.callback.entry import CallbackEntry
from ivr.services.callback.service import RETRY_SOON
from ivr.services.callback.store import Callback

from ..acd.fakes import eventually
from .service_env import CUSTOMER, NOW, NUMBER, Env, rung, seconds, served


async def agent_answers(env: Env, cb: Callback) -> tuple[CallbackEntry, str]:
    """a1 logged in, the callback listed, offered, a1's phone rings and is answered."""
    await env.r.acd.login("a1")
    entry = await env.listed(cb)
    agent_channel = await rung(env, "PJSIP/a1")
    dial = env.r.rest.sent("POST", f"/channels/{agent_channel}")[0].params
    assert dial["appArgs"] == f"acd-agent,{cb.id}"
    env.r.client.channel_event(StasisStart, agent_channel, args=("acd-agent", cb.id))
    return entry, agent_channel


async def test_agent_first_customer_busy(env: Env) -> None:
    cb = await env.svc.request("sales", NUMBER)
    desk = env.r.acd.desktops.listen("a1")
    entry, agent_channel = await agent_answers(env, cb)
    customer = await rung(env, CUSTOMER)
    assert cb.state == "dialing" and cb.agent_id == "a1"
    assert (await env.stored(cb)).state == "dialing"
    assert env.r.acd.agent("a1").state is AgentState.ON_CALL
    dial = env.r.rest.sent("POST", f"/channels/{customer}")[0].params
    assert (dial["appArgs"], dial["callerId"], dial["timeout"]) == (
        f"callback,{cb.id}", '"Bank" <15880000>', 30)
    sound = env.r.acd.prompts.media_uri
    assert env.played[:2] == [sound("callback-agent-intro", "en"), sound("digit-0", "en")]
    assert "tone:ring" in env.played, "the agent hears the customer's phone ring"

    env.r.client.channel_event(ChannelDestroyed, customer, cause=17, cause_txt="User busy")
    await served(entry)
    assert env.played[-1] == sound("callback-no-answer", "en")
    assert (cb.state, cb.attempts, cb.agent_id) == ("pending", 1, "")
    assert cb.next_attempt_at == NOW + seconds(60)
    [attempt] = await env.store.attempts(cb.id)
    assert (attempt.attempt, attempt.result, attempt.agent_id, attempt.detail) == (
        1, "busy", "a1", "User busy")
    stored = await env.stored(cb)
    assert (stored.state, stored.attempts) == ("pending", 1)
    agent = env.r.acd.agent("a1")
    assert agent.state is AgentState.AVAILABLE, "free at once, no wrap-up"
    assert agent.call_id == ""
    assert agent_channel in env.r.rest.hung_up and customer in env.r.rest.hung_up
    assert cb.id not in env.r.acd.sessions
    assert env.originated() == ["PJSIP/a1", CUSTOMER], "no second dial before its time"
    pops = [m for m in (desk.get_nowait().to_json() for _ in range(desk.qsize()))
            if m["type"] == "screen_pop"]
    assert [(p["kind"], p["call_id"], p["caller"], p["attempt"]) for p in pops] == [
        ("callback", cb.id, NUMBER, 1)]
    assert env.r.rest.bridges == {}, "nobody was bridged"


async def test_agent_first_briefing_plays_the_voicemail_it_came_from(env: Env) -> None:
    opened: list[str] = []
    closed: list[str] = []

    @asynccontextmanager
    async def media(message_id: str) -> AsyncIterator[str | None]:
        opened.append(message_id)
        try:
            yield f"sound:/tmp/voicemail/{message_id}"
        finally:
            closed.append(message_id)

    env.svc.message_media = media
    cb = await env.svc.request("sales", NUMBER, message_id="m-42", source="voicemail")
    await env.store.dnc_add(NUMBER)  # ends the attempt right after the briefing
    entry, _ = await agent_answers(env, cb)
    await served(entry)
    sound = env.r.acd.prompts.media_uri
    briefing = env.played[:env.played.index(sound("callback-blocked", "en"))]
    assert briefing[0] == sound("callback-agent-intro", "en")
    assert briefing[-2:] == [sound("callback-agent-message", "en"), "sound:/tmp/voicemail/m-42"]
    assert (opened, closed) == (["m-42"], ["m-42"]), "the message's media is released"


async def test_agent_first_number_put_on_the_dnc_list_after_booking(env: Env) -> None:
    cb = await env.svc.request("sales", NUMBER)
    await env.store.dnc_add(NUMBER, "asked by phone")
    entry, agent_channel = await agent_answers(env, cb)
    await served(entry)
    assert (cb.state, cb.outcome) == ("blocked", "dnc")
    assert cb.id not in env.svc.active
    assert (await env.stored(cb)).state == "blocked"
    assert [(a.result, a.agent_id) for a in await env.store.attempts(cb.id)] == [("dnc", "a1")]
    assert env.originated() == ["PJSIP/a1"], "the customer is never dialled"
    assert env.played[-1] == env.r.acd.prompts.media_uri("callback-blocked", "en")
    assert "tone:ring" not in env.played
    assert env.r.acd.agent("a1").state is AgentState.AVAILABLE
    assert agent_channel in env.r.rest.hung_up


async def test_agent_first_customer_answers_and_talks(env: Env) -> None:
    cb = await env.svc.request("sales", NUMBER)
    entry, agent_channel = await agent_answers(env, cb)
    customer = await rung(env, CUSTOMER)
    env.r.client.channel_event(StasisStart, customer, args=("callback", cb.id))
    bridge = f"cb-call-{cb.id}"
    await eventually(lambda: len(env.r.rest.bridges.get(bridge, ())) == 2)
    assert env.r.rest.bridges[bridge] == [agent_channel, customer]
    assert entry.state == "connected"
    env.advance(seconds(120))
    env.r.client.channel_event(ChannelDestroyed, customer, cause=16)
    await served(entry)
    assert (cb.state, cb.outcome, cb.attempts) == ("completed", "answered", 0)
    assert [(a.result, a.channel_id) for a in await env.store.attempts(cb.id)] == [
        ("answered", customer)]
    assert env.r.acd.agent("a1").state is AgentState.WRAP_UP, "after-call work as for a call"
    assert bridge not in env.r.rest.bridges and agent_channel in env.r.rest.hung_up


async def test_agent_hanging_up_while_the_customer_rings(env: Env) -> None:
    cb = await env.svc.request("sales", NUMBER)
    entry, agent_channel = await agent_answers(env, cb)
    customer = await rung(env, CUSTOMER)
    env.r.client.channel_event(ChannelHangupRequest, agent_channel)
    await served(entry)
    assert customer in env.r.rest.hung_up, "the customer's phone stops ringing"
    assert (cb.state, cb.attempts, cb.agent_id) == ("pending", 0, ""), "not the customer's fault"
    assert cb.next_attempt_at == NOW + seconds(RETRY_SOON)
    assert [(a.attempt, a.result) for a in await env.store.attempts(cb.id)] == [
        (1, "agent_gone")]
    assert (await env.stored(cb)).state == "pending"
    assert env.r.acd.agent("a1").state is AgentState.AVAILABLE


async def test_cancel_while_the_customer_rings(env: Env) -> None:
    cb = await env.svc.request("sales", NUMBER)
    entry, agent_channel = await agent_answers(env, cb)
    customer = await rung(env, CUSTOMER)
    got = await env.svc.cancel(cb.id)
    assert got is cb and (cb.state, cb.outcome) == ("cancelled", "cancelled")
    assert entry.task is not None and entry.task.done()
    assert [(a.result, a.detail) for a in await env.store.attempts(cb.id)] == [
        ("interrupted", "cancelled")], "settled once, by serve()"
    assert (await env.stored(cb)).state == "cancelled"
    assert customer in env.r.rest.hung_up and agent_channel in env.r.rest.hung_up
    assert env.r.acd.agent("a1").state is AgentState.AVAILABLE


async def test_stopping_while_the_customer_rings_keeps_the_callback(env: Env) -> None:
    cb = await env.svc.request("sales", NUMBER)
    _, agent_channel = await agent_answers(env, cb)
    customer = await rung(env, CUSTOMER)
    await env.svc.stop()
    assert customer in env.r.rest.hung_up and agent_channel in env.r.rest.hung_up
    stored = await env.stored(cb)
    assert (stored.state, stored.attempts, stored.agent_id) == ("pending", 0, "")
    assert [(a.result, a.detail) for a in await env.store.attempts(cb.id)] == [
        ("interrupted", "stopped")]
    assert cb.id not in env.r.acd.sessions


async def test_agent_not_answering_puts_it_back_in_line(env: Env) -> None:
    cb = await env.svc.request("sales", NUMBER)
    await env.r.acd.login("a1")
    entry = await env.listed(cb)
    agent_channel = await rung(env, "PJSIP/a1")
    env.r.client.channel_event(ChannelDestroyed, agent_channel, cause=19)
    await eventually(lambda: entry.state == "waiting" and entry.task is None)
    assert entry.tried == {"a1"} and env.r.acd.sessions[cb.id] is entry
    assert cb.state == "pending" and await env.store.attempts(cb.id) == []
    assert env.originated() == ["PJSIP/a1"]


async def test_cancel_while_the_agent_rings(env: Env) -> None:
    cb = await env.svc.request("sales", NUMBER)
    await env.r.acd.login("a1")
    await env.listed(cb)
    agent_channel = await rung(env, "PJSIP/a1")
    got = await env.svc.cancel(cb.id)
    assert got is cb and cb.state == "cancelled"
    assert (await env.stored(cb)).state == "cancelled"
    assert agent_channel in env.r.rest.hung_up, "the agent's phone stops ringing"
    assert env.r.acd.agent("a1").state is AgentState.AVAILABLE
    assert [(a.result, a.detail) for a in await env.store.attempts(cb.id)] == [
        ("interrupted", "cancelled")]
    assert cb.id not in env.r.acd.sessions and cb.id not in env.svc.active


async def test_agent_first_the_desktop_holds_the_customer_and_transfers_them(env: Env) -> None:
    cb = await env.svc.request("sales", NUMBER)
    entry, agent_channel = await agent_answers(env, cb)
    customer = await rung(env, CUSTOMER)
    env.r.client.channel_event(StasisStart, customer, args=("callback", cb.id))
    bridge = f"cb-call-{cb.id}"
    await eventually(lambda: "a1" in env.svc.talking)
    desk = env.r.acd.desktops.listen("a1")
    talk = env.svc.talking["a1"]
    assert talk.id == cb.id
    assert await talk.command(Hold()) == "held"
    assert env.r.rest.bridges[bridge] == [agent_channel]
    assert env.r.rest.sent("POST", f"/channels/{customer}/moh")
    assert await talk.command(Unhold()) == "talking"
    assert env.r.rest.bridges[bridge] == [agent_channel, customer]
    assert [desk.get_nowait() for _ in range(desk.qsize())] == [
        CallHold(cb.id, True), CallHold(cb.id, False)]
    assert await talk.command(Transfer("1234")) == "transferred"
    await served(entry)
    assert env.r.rest.sent("POST", f"/channels/{customer}/continue")[0].params == {
        "context": "ivr-extensions", "extension": "1234", "priority": 1}
    assert customer not in env.r.rest.hung_up, "the customer goes on in the dialplan"
    assert agent_channel in env.r.rest.hung_up and "a1" not in env.svc.talking
    [attempt] = await env.store.attempts(cb.id)
    assert (attempt.result, attempt.detail) == ("answered", "transferred to 1234")
    with pytest.raises(CallControlError):
        talk.command(Hold())


async def test_agent_first_a_command_after_the_call_is_refused(env: Env) -> None:
    cb = await env.svc.request("sales", NUMBER)
    entry, _ = await agent_answers(env, cb)
    customer = await rung(env, CUSTOMER)
    env.r.client.channel_event(StasisStart, customer, args=("callback", cb.id))
    await eventually(lambda: "a1" in env.svc.talking)
    talk = env.svc.talking["a1"]
    env.r.client.channel_event(ChannelDestroyed, customer, cause=16)
    await served(entry)
    with pytest.raises(CallControlError, match="ended"):
        talk.command(Hold())  # refused at once: nobody would ever answer it
