"""A preview contact the agent accepted: the agent's phone first, then the customer's.

Agent-first, as a preview dialer is: the agent read the contact on the desktop and accepted it,
so the agent's phone rings (the ACD's ring_group, the screen pop with the contact's fields),
and once the agent answers the customer is dialled (with the gate's clearance, taken at the
accept) while the agent hears the ring. Answered, both are bridged until either hangs up; the
agent then wraps up as after any call. Nobody waits for an agent, so nothing is abandoned and
no AMD runs (the agent hears who answered).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ...ari import AriClient, AriError, ChannelHandle
from ..acd.agents import Agent
from ..acd.config import QueueConfig
from ..acd.desktop import CallConnected, CallEnded, HowEnded, ScreenPop
from ..acd.engine import Acd
from ..acd.ringing import ring_group
from ..legs import gone, race, release
from .call import FALLBACK_LANGUAGE, OUTBOUND_ARG, AttemptPlan, Outcome, Phase
from .dial import dial

log = logging.getLogger(__name__)

__all__ = ["RING_TONE", "run_preview"]

RING_TONE = "tone:ring"
NO_ANSWER_PROMPT = "callback-no-answer"
"""What the agent hears when the customer did not answer (the callbacks' prompt)."""


async def run_preview(client: AriClient, acd: Acd, plan: AttemptPlan, agent: Agent,
                      queue: QueueConfig, phase: Phase) -> Outcome | None:
    """The accepted contact's call; None when the agent never answered its phone (the
    contact is not dialled, and goes back to the list)."""
    contact, call_id = plan.contact, plan.attempt_id
    out = Outcome(started_at=plan.clock(), channel_id=call_id)
    await acd.reserve([agent], call_id)
    answered = await ring_group(acd, queue, call_id, contact.number, [agent])
    if answered is None:
        return None
    agent_leg = answered.channel
    await acd.answered(agent, call_id)
    out.agent_id = agent.id
    acd.desktops.publish(agent.id, ScreenPop.of(
        plan.origin, agent=agent.id, call_id=call_id, queue=queue.name, caller=contact.number,
        caller_name=contact.name, language=contact.language or FALLBACK_LANGUAGE,
        priority=plan.campaign.priority, waited_s=None))
    agent_gone = asyncio.create_task(gone(agent_leg))
    customer: ChannelHandle | None = None
    bridge = None
    talked = False
    how = HowEnded.COMPLETEAGENT
    try:
        phase("ringing")
        ringing = await agent_leg.play(RING_TONE)
        dialling = asyncio.create_task(dial(
            client, plan.endpoint, plan.clearance, contact.number,
            caller_id=plan.campaign.caller_id, ring_timeout=plan.campaign.ring_timeout,
            app_args=f"{OUTBOUND_ARG},{call_id}", channel_id=call_id, now=plan.clock()))
        if not await race(dialling, agent_gone):
            out.result, out.detail = "failed", "the agent hung up while the customer rang"
            return out
        with contextlib.suppress(AriError):
            await ringing.stop()
        if ringing.events is not None:
            ringing.events.close()
        dialled = dialling.result()
        if dialled.channel is None:
            out.result, out.detail = dialled.result, dialled.detail
            with contextlib.suppress(AriError):
                playback = await agent_leg.play(acd.prompts.media_uri(NO_ANSWER_PROMPT, "en"))
                await playback.finished(timeout=10)
            return out
        customer = dialled.channel
        out.answered_at = out.connected_at = plan.clock()
        bridge = await client.bridges.create("mixing", bridge_id=f"ob-call-{call_id}")
        await bridge.add(agent_leg.id, customer.id)
        talked = True
        phase("connected")
        out.result = "human"
        acd.desktops.publish(agent.id, CallConnected(call_id, queue.name))
        customer_gone = asyncio.create_task(gone(customer))
        try:
            done, _ = await asyncio.wait({agent_gone, customer_gone},
                                         return_when=asyncio.FIRST_COMPLETED)
            how = HowEnded.COMPLETEAGENT if agent_gone in done else HowEnded.COMPLETECALLER
        finally:
            customer_gone.cancel()
        return out
    finally:
        agent_gone.cancel()
        await release((customer, agent_leg), bridge)
        if talked:
            await acd.call_ended(agent, queue, call_id)
            acd.desktops.publish(agent.id, CallEnded(call_id, how))
        else:
            await acd.released(agent)
