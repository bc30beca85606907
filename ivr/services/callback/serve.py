"""Serving one callback when its turn comes: dial, bridge, and report the attempt.

Agent-first: the dispatcher has reserved the agents; they are rung like for a caller, the one
who answers hears whose callback it is (and the voicemail it came from), then the customer's
phone rings with the agent listening to the ring. Customer-first: the customer is dialled
when an agent is free; on answering they hear whose callback this is and wait at the head of
the queue (the place they had), like any caller.

Whatever interrupts (a hangup on either side, a cancel, the app stopping) every channel this
dialled is hung up, the agent is set free, and the attempt is settled through the service.

The service (service.py) starts `serve`; what serving needs of it is the CallbackService
protocol below, so this module does not import the service back.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from ...ari import (
    AriClient,
    AriError,
    ChannelHandle,
)
from ...ari.handles import new_id
from ...media.say import say
from ..acd.agents import Agent
from ..acd.desktop import (
    CallbackOrigin,
    CallConnected,
    CallEnded,
    CallHold,
    HowEnded,
    ScreenPop,
)
from ..acd.engine import Acd
from ..acd.results import Left, QueueResult, Served, TransferredOut
from ..acd.ringing import ring_group
from ..acd.store import EntryState
from ..acd.waiting import QueueRequest, wait
from ..legs import gone, play, race, release
from ..outbound.dial import Dialled, dial
from ..outbound.gate import Clearance, Verdict
from .entry import CallbackEntry
from .leg import CALLBACK_ARG, CustomerLeg
from .store import Callback, CallbackState, CallbackStore
from .talk import AgentFirstTalk

log = logging.getLogger(__name__)

AGENT_LANGUAGE = "en"
RING_TONE = "tone:ring"

MessageMedia = Callable[[str], AbstractAsyncContextManager[str | None]]
"""Voicemail message id -> a media URI Asterisk can play while the block runs (a callback
made from a message), or None when there is none."""


class CallbackService(Protocol):
    """What serving a callback needs of the service that keeps it (service.Callbacks)."""

    @property
    def client(self) -> AriClient: ...
    @property
    def acd(self) -> Acd: ...
    @property
    def store(self) -> CallbackStore: ...
    @property
    def dial(self) -> str: ...
    @property
    def message_media(self) -> MessageMedia | None: ...
    @property
    def active(self) -> Mapping[str, Callback]: ...
    @property
    def stopping(self) -> bool: ...
    @property
    def talking(self) -> dict[str, AgentFirstTalk]:
        """Agent id -> its agent-first callback conversation, for the desktop's commands."""

    def now(self) -> dt.datetime: ...
    async def clear(self, entry: CallbackEntry) -> Clearance | Verdict: ...
    def unlist(self, entry: CallbackEntry) -> None: ...
    async def dialling(self, cb: Callback, agent: str = "") -> None: ...
    async def back_in_line(self, entry: CallbackEntry) -> None: ...
    async def settle(self, entry: CallbackEntry, result: str, *, started: dt.datetime,
                     agent: str = "", channel: str = "", detail: str = "") -> None: ...


async def serve(svc: CallbackService, entry: CallbackEntry, group: list[Agent]) -> None:
    started = svc.now()
    try:
        if entry.claims_agents:
            await _agent_first(svc, entry, group)
        else:
            await _customer_first(svc, entry)
    except asyncio.CancelledError:
        if entry.cb.id in svc.active and entry.cb.state is not CallbackState.CANCELLED:
            await asyncio.shield(svc.settle(entry, "interrupted", started=started,
                                            detail="stopped" if svc.stopping else "cancelled"))
        raise
    except Exception as exc:
        log.exception("callback %s failed", entry.id)
        await svc.settle(entry, "failed", started=started, detail=str(exc)[:200])


async def _dial(svc: CallbackService, entry: CallbackEntry, cleared: Clearance) -> Dialled:
    cb, policy = entry.cb, entry.queue.callback
    return await dial(
        svc.client, svc.dial.format(number=cb.number), cleared, cb.number,
        caller_id=policy.caller_id, ring_timeout=policy.ring_timeout,
        app_args=f"{CALLBACK_ARG},{cb.id}", channel_id=new_id(f"cb-{cb.id[3:]}-"),
        now=svc.now())


def _refusal(verdict: Verdict) -> tuple[str, str]:
    """A refusal of the gate as a callback attempt's result: dnc closes the callback; any
    other reason (a limit a day) is a failed attempt, tried again after the back-off."""
    text = "refused by the gate: " + ", ".join(verdict.reasons)
    if any(r.startswith("dnc_") for r in verdict.reasons):
        return "dnc", text
    return "failed", text


@contextlib.asynccontextmanager
async def _message(svc: CallbackService, message_id: str) -> AsyncIterator[str | None]:
    if not message_id or svc.message_media is None:
        yield None
        return
    async with svc.message_media(message_id) as media:
        yield media


def _origin(cb: Callback) -> CallbackOrigin:
    """The callback, for the screen pop of the agent who serves this attempt."""
    return CallbackOrigin(callback=cb.id, source=cb.source, message_id=cb.message_id or None,
                          attempt=cb.attempts + 1)


def _briefing(svc: CallbackService, entry: CallbackEntry, message: str | None) -> list[str]:
    prompts = svc.acd.prompts
    ids = ["callback-agent-intro", *say("digits", entry.cb.number, AGENT_LANGUAGE)]
    media = [prompts.media_uri(p, AGENT_LANGUAGE) for p in ids]
    if message:
        media += [prompts.media_uri("callback-agent-message", AGENT_LANGUAGE), message]
    return media


async def _agent_first(svc: CallbackService, entry: CallbackEntry, group: list[Agent]) -> None:
    acd, cb, queue = svc.acd, entry.cb, entry.queue
    started = svc.now()
    try:
        answered = await ring_group(acd, queue, cb.id, cb.number, group)
    finally:
        entry.tried |= {a.id for a in group}
        entry.last_try = acd.clock()
    if answered is None:
        await svc.back_in_line(entry)
        return
    agent, agent_leg = answered.agent, answered.channel
    entry.state = EntryState.CONNECTED
    await acd.answered(agent, cb.id)
    await svc.dialling(cb, agent.id)
    acd.desktops.publish(agent.id, ScreenPop.of(
        _origin(cb), agent=agent.id, call_id=cb.id, queue=queue.name, caller=cb.number,
        caller_name="", language=cb.language, priority=cb.priority, waited_s=None))
    agent_gone = asyncio.create_task(gone(agent_leg))
    customer: ChannelHandle | None = None
    bridge = None
    result, detail, talked = "agent_gone", "", False
    interrupted = False  # a cancel or an error: serve() settles it, not this
    handed_on = False
    try:
        async with _message(svc, cb.message_id) as message:
            briefed = asyncio.create_task(play(agent_leg, _briefing(svc, entry, message)))
            if not await race(briefed, agent_gone):
                return
        cleared = await svc.clear(entry)
        if isinstance(cleared, Verdict):
            result, detail = _refusal(cleared)
            await play(agent_leg, [acd.prompts.media_uri("callback-blocked", AGENT_LANGUAGE)])
            return
        ringing = await agent_leg.play(RING_TONE)
        dialling = asyncio.create_task(_dial(svc, entry, cleared))
        if not await race(dialling, agent_gone):
            return
        with contextlib.suppress(AriError):
            await ringing.stop()
        if ringing.events is not None:
            ringing.events.close()
        dialled = dialling.result()
        result, detail, customer = dialled.result, dialled.detail, dialled.channel
        if customer is None:
            with contextlib.suppress(AriError):
                await play(agent_leg, [acd.prompts.media_uri("callback-no-answer",
                                                              AGENT_LANGUAGE)])
            return
        bridge = await svc.client.bridges.create("mixing", bridge_id=f"cb-call-{cb.id}")
        await bridge.add(agent_leg.id, customer.id)
        talked = True
        log.info("callback %s: %s talks to %s", cb.id, agent.id, cb.number)
        acd.desktops.publish(agent.id, CallConnected(cb.id, queue.name))
        customer_gone = asyncio.create_task(gone(customer))
        talk = AgentFirstTalk(acd, cb.id, bridge, customer, queue.moh,
                              lambda held: acd.desktops.publish(agent.id, CallHold(cb.id, held)))
        svc.talking[agent.id] = talk
        try:
            await talk.run(agent_gone, customer_gone)
        finally:
            svc.talking.pop(agent.id, None)
            customer_gone.cancel()
        if talk.transferred_to is not None:
            detail = f"transferred to {talk.transferred_to}"
            handed_on = True  # the customer is in the dialplan now: not hung up below
    except BaseException:
        interrupted = True
        raise
    finally:
        agent_gone.cancel()
        await release((customer, agent_leg), bridge, keep=customer if handed_on else None)
        if talked:
            await acd.call_ended(agent, queue, cb.id)
            acd.desktops.publish(agent.id, CallEnded(cb.id, HowEnded.CALLBACK))
        else:
            await acd.released(agent)
        if not interrupted:  # also after the early returns above (dnc, no answer, agent gone)
            await svc.settle(entry, result, started=started, agent=agent.id,
                             channel=customer.id if customer else "", detail=detail)


async def _customer_first(svc: CallbackService, entry: CallbackEntry) -> None:
    cb = entry.cb
    started = svc.now()
    cleared = await svc.clear(entry)
    if isinstance(cleared, Verdict):
        result, detail = _refusal(cleared)
        await svc.settle(entry, result, started=started, detail=detail)
        return
    await svc.dialling(cb)
    dialled = await _dial(svc, entry, cleared)
    if dialled.channel is None:
        await svc.settle(entry, dialled.result, started=started, detail=dialled.detail)
        return
    leg = CustomerLeg(dialled.channel, cb.number, cb.language or AGENT_LANGUAGE,
                      svc.acd.prompts)
    svc.unlist(entry)  # from here on the customer waits as a caller in the queue
    holding = asyncio.create_task(_hold(svc, entry, leg))
    pump = asyncio.create_task(leg.pump(holding))
    try:
        await asyncio.wait({holding})
    finally:
        pump.cancel()
        if not holding.done():
            holding.cancel()
        await asyncio.gather(holding, pump, return_exceptions=True)
        if not leg.gone.is_set():
            with contextlib.suppress(AriError):
                await leg.handle.hangup()
        if leg.handle.events is not None:
            leg.handle.events.close()
    ended = None if holding.cancelled() else holding.result()
    if isinstance(ended, Served | TransferredOut) or leg.reached_agent:
        result, detail = "answered", ""
    elif ended is None:  # the customer hung up while waiting
        result, detail = "abandoned", "abandoned"
    else:  # left by a limit or a key (the outcome), or the queue is gone ("")
        result, detail = "not_connected", ended.outcome if isinstance(ended, Left) else ""
    await svc.settle(entry, result, started=started, channel=leg.id, detail=detail)


async def _hold(svc: CallbackService, entry: CallbackEntry, leg: CustomerLeg) -> QueueResult:
    cb = entry.cb
    await play(leg.handle, [svc.acd.prompts.media_uri("callback-customer-intro", leg.language)])
    return await wait(svc.acd, leg, QueueRequest(
        queue=cb.queue, priority=cb.priority, since=entry.entered_at,
        screen=_origin(cb)))
