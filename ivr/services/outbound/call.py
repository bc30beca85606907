"""One attempt to reach a contact, from the dial to the hangup: what the dialler runs per call.

The customer's channel is dialled straight into the application (dial.py, with the gate's
clearance). Once answered, a campaign with answering-machine detection sends it to the dialplan
context `ivr-outbound-amd` (asterisk-conf/extensions.conf), where Asterisk's AMD() listens to
the greeting and the channel comes back into Stasis with the verdict as its arguments; the
subscription made at the dial sees that StasisStart, so nothing needs routing.

- MACHINE: hang up, or (on_machine: message) go back to the context's `beep` extension, which
  returns at the beep (or the silence after the greeting), and play the campaign's message.
- HUMAN (NOTSURE too: a person wrongly taken for a machine is the costly mistake): the contact
  joins the campaign's queue as a caller does, with the contact's fields on the agent's screen
  pop. If no agent has taken it within the rule set's connect time (2 s in the US) after the
  greeting ended, the wait is given up, the contact hears the safe-harbor message and the
  attempt is `abandoned`. The greeting ended before the verdict: AMD says HUMAN after the
  silence that follows it (its cause, HUMAN-<after greeting silence>-<silence heard>, says how
  long), so that much of the connect time is spent already, and the message is started
  `START_MARGIN` early so that it is heard within the time.

Agentless campaigns give the answered human (HUMAN or NOTSURE) to the campaign's flow, with the
contact's fields as its variables, through the app's `RunFlow` hook (the flow runs as any
call). Meanwhile the dialler watches the channel's keys: the campaign's `opt_out_key` puts the
number on the internal do-not-call list the moment it is pressed, whatever the flow does next
(the shipped reminder flow confirms it).

Whatever ends the attempt (either side hanging up, the dialler stopping) the customer's channel
is hung up and the attempt's result is returned for the dialler to store.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from ...ari import (
    AriClient,
    AriError,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelHandle,
    StasisStart,
    channel_key,
)
from ...media.prompts import PromptLibrary
from ..acd.desktop import OutboundOrigin
from ..acd.engine import Acd
from ..acd.waiting import QueueRequest, wait
from ..callback.leg import CustomerLeg
from ..legs import play
from ..place import PlaceChanged, WithAgent
from .campaign import CampaignConfig
from .dial import dial
from .gate import Clearance
from .store import Contact

log = logging.getLogger(__name__)

__all__ = ["AMD_ARG", "AMD_CONTEXT", "OUTBOUND_ARG", "AttemptPlan", "Outcome", "run_attempt"]

OUTBOUND_ARG = "outbound"
"""First Stasis argument of a dialled contact's channel (then the attempt's id)."""
AMD_ARG = "outbound-amd"
"""First Stasis argument of a channel back from ivr-outbound-amd (then the verdict)."""
AMD_CONTEXT = "ivr-outbound-amd"
AMD_TIMEOUT = 20.0
"""Seconds for AMD() to answer (its analysis time is 6 s in amd.conf) or the beep wait (20 s)."""
FALLBACK_LANGUAGE = "en"
START_MARGIN = 0.2
"""Seconds from asking Asterisk to play the safe harbor to its first sound reaching the line."""

Phase = Callable[[str], None]
"""The dialler's hook: ringing, detecting, waiting_agent, connected, machine, done."""
RunFlow = Callable[[ChannelHandle, str, Mapping[str, str]], Awaitable["asyncio.Task[str]"]]
"""run(channel, flow, variables): the app runs the flow on the answered channel as a call; the
task ends with the flow's outcome (cancelling it ends the call)."""
OptOut = Callable[[str], Awaitable[None]]
"""opt_out(number): on the internal do-not-call list at once."""


@dataclass(frozen=True, slots=True)
class AttemptPlan:
    campaign: CampaignConfig
    contact: Contact
    clearance: Clearance
    attempt: int
    """This attempt's number for the contact, from 1."""
    attempt_id: str
    endpoint: str
    """The dial string, the campaign's dial template filled with the number."""
    connect_seconds: float
    """The rule set's: an answered human waits at most this long for an agent."""
    origin: OutboundOrigin
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    """The dialler's clock (the clearance's time is on it)."""
    run_flow: RunFlow | None = None
    """Agentless: the app's hook that runs the campaign's flow on the channel."""
    opt_out: OptOut | None = None


@dataclass
class Outcome:
    result: str = "failed"
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    answered_at: dt.datetime | None = None
    connected_at: dt.datetime | None = None
    amd_status: str = ""
    amd_cause: str = ""
    agent_id: str = ""
    channel_id: str = ""
    detail: str = ""


async def run_attempt(client: AriClient, acd: Acd, plan: AttemptPlan, phase: Phase) -> Outcome:
    contact, campaign = plan.contact, plan.campaign
    out = Outcome(started_at=plan.clock(), channel_id=plan.attempt_id)
    phase("ringing")
    dialled = await dial(client, plan.endpoint, plan.clearance, contact.number,
                         caller_id=campaign.caller_id, ring_timeout=campaign.ring_timeout,
                         app_args=f"{OUTBOUND_ARG},{plan.attempt_id}",
                         channel_id=plan.attempt_id, variables={"IVR_AMD_PARAMS": ""},
                         now=plan.clock())
    if dialled.channel is None:
        out.result, out.detail = dialled.result, dialled.detail
        return out
    channel = dialled.channel
    out.answered_at = plan.clock()
    try:
        if campaign.amd.enabled:
            phase("detecting")
            verdict = await _detect(channel, "s")
            if verdict is None:
                out.result, out.detail = "no_answer", "hung up during machine detection"
                return out
            out.amd_status, out.amd_cause = verdict
            if out.amd_status == "MACHINE":
                phase("machine")
                out.result = "machine"
                out.detail = await _on_machine(channel, campaign, contact, acd.prompts)
                return out
        if campaign.mode == "agentless":
            phase("connected")
            await _agentless(client, channel, plan, out)
            return out
        phase("waiting_agent")
        spent = _silence_heard(out.amd_cause) if out.amd_status == "HUMAN" else 0.0
        await _to_agent(channel, acd, plan, out, phase,
                        max(0.0, plan.connect_seconds - spent - START_MARGIN))
        return out
    finally:
        with contextlib.suppress(AriError):
            await channel.hangup()
        if channel.events is not None:
            channel.events.close()
        phase("done")


async def _agentless(client: AriClient, channel: ChannelHandle, plan: AttemptPlan,
                     out: Outcome) -> None:
    """The campaign's flow runs on the channel; the opt-out key is watched beside it."""
    campaign, contact = plan.campaign, plan.contact
    out.result, out.connected_at = "human", plan.clock()
    if plan.run_flow is None:
        out.detail = "no flow runner"
        return
    keys = client.subscribe(channel_key(channel.id))  # before the flow: no key slips past
    opted_out = False

    async def watch() -> None:
        nonlocal opted_out
        async for event in keys:
            if isinstance(event, ChannelDtmfReceived) and campaign.opt_out_key \
                    and event.digit == campaign.opt_out_key and not opted_out:
                opted_out = True
                if plan.opt_out is not None:
                    await plan.opt_out(contact.number)
                log.info("outbound %s: %s opted out (key %s)", plan.attempt_id,
                         contact.number, event.digit)

    watcher = asyncio.create_task(watch())
    variables = {**contact.fields, "name": contact.name, "number": contact.number}
    flow: asyncio.Task[str] | None = None
    try:
        flow = await plan.run_flow(channel, campaign.flow, variables)
        if channel.events is not None:
            channel.events.close()  # the flow's call reads the channel from here on
        outcome = await flow
    finally:
        if flow is not None and not flow.done():
            flow.cancel()
            await asyncio.gather(flow, return_exceptions=True)
        keys.close()  # the keys already in are still read (an opt-out is never dropped)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(watcher), 5.0)
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
    out.detail = f"flow {campaign.flow}: {outcome}" + ("; opted out" if opted_out else "")


def _silence_heard(cause: str) -> float:
    """Seconds between the greeting's end and the HUMAN verdict, from AMDCAUSE."""
    parts = cause.split("-")
    try:
        return int(parts[2]) / 1000 if len(parts) == 3 else 0.0
    except ValueError:
        return 0.0


async def _detect(channel: ChannelHandle, extension: str) -> tuple[str, str] | None:
    """Continue into ivr-outbound-amd and wait for the channel to come back: (STATUS, CAUSE),
    or None when the callee hung up meanwhile."""
    await channel.continue_in_dialplan(AMD_CONTEXT, extension, 1)
    assert channel.events is not None
    try:
        async with asyncio.timeout(AMD_TIMEOUT):
            async for event in channel.events:
                if isinstance(event, StasisStart) and event.args[:1] == (AMD_ARG,):
                    status, cause = ([*event.args[1:], "", ""])[:2]
                    return status, cause
                if isinstance(event, ChannelDestroyed):
                    return None
    except TimeoutError:
        log.warning("no verdict from %s for channel %s in %.0f s", AMD_CONTEXT, channel.id,
                    AMD_TIMEOUT)
    return None


def _media(prompts: PromptLibrary, ids: tuple[str, ...], language: str) -> list[str]:
    return [prompts.media_uri(p, language) for p in ids]


async def _on_machine(channel: ChannelHandle, campaign: CampaignConfig, contact: Contact,
                      prompts: PromptLibrary) -> str:
    if campaign.amd.on_machine != "message" or not campaign.amd.message:
        return "hung up on the machine"
    beep = await _detect(channel, "beep")
    if beep is None:
        return "the machine hung up before the beep"
    await play(channel, _media(prompts, campaign.amd.message,
                                contact.language or FALLBACK_LANGUAGE))
    return f"message left ({beep[1] or 'beep'})"


async def _to_agent(channel: ChannelHandle, acd: Acd, plan: AttemptPlan, out: Outcome,
                    phase: Phase, connect_within: float) -> None:
    """The answered human waits in the campaign's queue `connect_within` seconds at most."""
    campaign, contact = plan.campaign, plan.contact
    language = contact.language or FALLBACK_LANGUAGE
    leg = CustomerLeg(channel, contact.number, language, acd.prompts, kind="outbound")
    leg.caller_name = contact.name
    connected = asyncio.Event()

    def moved(change: PlaceChanged) -> None:
        if isinstance(change.place, WithAgent):
            out.agent_id, out.connected_at = change.place.agent, plan.clock()
            connected.set()

    leg.whereabouts.listeners.append(moved)
    holding = asyncio.create_task(wait(acd, leg, QueueRequest(
        queue=campaign.queue, priority=campaign.priority, screen=plan.origin,
        behind_inbound=True)))
    pump = asyncio.create_task(leg.pump(holding))
    reached = asyncio.create_task(connected.wait())
    try:
        await asyncio.wait({holding, reached}, timeout=connect_within,
                           return_when=asyncio.FIRST_COMPLETED)
        if not connected.is_set():
            if not holding.done():
                holding.cancel()  # no agent in time: out of the queue, then the message
                await asyncio.gather(holding, return_exceptions=True)
            if leg.gone.is_set():
                out.result, out.detail = "human", "hung up before an agent took the call"
                return
            if not connected.is_set():
                out.result, out.detail = "abandoned", "no agent within the connect time"
                log.info("outbound %s: no agent in %.2f s, safe harbor", plan.attempt_id,
                         connect_within)
                await play(channel, _media(acd.prompts, campaign.safe_harbor, language))
                return
        phase("connected")
        await asyncio.gather(holding, return_exceptions=True)
        out.result = "human"
    finally:
        reached.cancel()
        pump.cancel()
        if not holding.done():
            holding.cancel()
        await asyncio.gather(holding, pump, reached, return_exceptions=True)
