"""Feature codes dialled from an agent's phone: *71 log in, *72 log out, *73[code] pause,
*74 unpause.

The dialplan sends them to the application as `Stasis(ivr,agent,<action>[,<reason code>])`.
The agent is the authenticated PJSIP endpoint the call comes from (the channel name
`PJSIP/agent1001-00000012`), never something the caller types, so a phone can only change
its own agent's state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from ...ari import AriError, ChannelHandle
from ...ari.models import Channel
from .engine import Acd, AgentError

log = logging.getLogger(__name__)

FEATURE_ARG = "agent"
MEDIA_SETTLE = 0.5
"""Seconds after answering before the confirmation (the phone's media starts) and after it
before hanging up (its jitter buffer drains), so the agent hears it whole."""
CONFIRMATIONS = {"login": "agent-logged-in", "logout": "agent-logged-out",
                 "pause": "agent-paused", "unpause": "agent-unpaused"}


def endpoint_of(channel_name: str) -> str:
    """'PJSIP/agent1001-00000012' -> 'PJSIP/agent1001'."""
    base, sep, _ = channel_name.rpartition("-")
    return base if sep else channel_name


async def apply_feature(acd: Acd, endpoint: str, action: str, code: str = "") -> str:
    """Do what the code asks; the prompt id that tells the agent how it went."""
    agent = acd.agent_by_endpoint(endpoint)
    if agent is None:
        log.warning("feature %s from %s, which is no agent's phone", action, endpoint)
        return "agent-unknown"
    try:
        if action == "login":
            await acd.login(agent.id)
        elif action == "logout":
            await acd.logout(agent.id)
        elif action == "pause":
            reasons = acd.config().pause_reasons
            await acd.pause(agent.id, reasons.get(code, code))
        elif action == "unpause":
            await acd.unpause(agent.id)
        else:
            return "agent-failed"
    except AgentError as exc:
        log.info("feature %s for %s refused: %s", action, agent.id, exc)
        return "agent-failed"
    return CONFIRMATIONS[action]


async def run_feature_call(acd: Acd, channel: Channel, handle: ChannelHandle,
                           args: Sequence[str], language: str = "en") -> None:
    """Answer, apply, say the result, hang up; the phone's hangup meanwhile ends it quietly."""
    action = args[1] if len(args) > 1 else ""
    code = args[2] if len(args) > 2 else ""
    try:
        await handle.answer()
        prompt = await apply_feature(acd, endpoint_of(channel.name), action, code)
        await asyncio.sleep(MEDIA_SETTLE)
        if acd.prompts.has(prompt, language):
            playback = await handle.play(acd.prompts.media_uri(prompt, language))
            await playback.finished(timeout=10.0)
        await asyncio.sleep(MEDIA_SETTLE)
        await handle.hangup()
    except (AriError, TimeoutError) as exc:
        log.info("feature call %s ended early: %s", channel.id, exc)
        with contextlib.suppress(AriError):
            await handle.hangup()
    finally:
        if handle.events is not None:
            handle.events.close()
