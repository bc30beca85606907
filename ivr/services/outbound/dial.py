"""Dialling a customer: the only code that rings someone outside, and only with a Clearance.

`dial()` takes the `gate.Clearance` the compliance gate gave for this number (campaigns and
callbacks alike), refuses one given for another number or too long ago, and turns ARI's answer
into one of the results the retry rules know (answered, no_answer, busy, failed). Whatever
happens no dialled channel is left ringing: one that is not answered is hung up here.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from ...ari import (
    AriClient,
    AriError,
    ChannelDestroyed,
    ChannelHandle,
    ChannelHangupRequest,
    StasisStart,
)
from .gate import Clearance

log = logging.getLogger(__name__)

__all__ = ["BUSY_CAUSES", "CLEARANCE_TTL", "NO_ANSWER_CAUSES", "Dialled", "NotCleared", "dial"]

BUSY_CAUSES = frozenset({17, 21})
"""User busy, call rejected."""
NO_ANSWER_CAUSES = frozenset({0, 16, 18, 19, 31, 102})
"""No answer in time (a channel cancelled before answer ends 'normal' or unspecified)."""
CLEARANCE_TTL = dt.timedelta(seconds=60)
"""A clearance is for now: the window may close, the number may be opted out. One older than
this is refused (a dial queued behind a slow database asks the gate again)."""


class NotCleared(Exception):
    """A dial without a valid clearance for this number: a bug in the caller, never dialled."""


@dataclass(frozen=True, slots=True)
class Dialled:
    result: str
    channel: ChannelHandle | None
    """Answered: the customer's channel, in the application and subscribed."""
    cause: int = 0
    detail: str = ""


async def dial(client: AriClient, endpoint: str, clearance: Clearance, number: str, *,
               caller_id: str, ring_timeout: float, app_args: str, channel_id: str,
               variables: Mapping[str, str] | None = None,
               now: dt.datetime | None = None) -> Dialled:
    """Ring `endpoint` (the dial string for `number`) into this application."""
    now = now or dt.datetime.now(dt.UTC)
    if clearance.number != number:
        raise NotCleared(f"clearance is for {clearance.number}, not {number}")
    if not dt.timedelta(0) <= now - clearance.at <= CLEARANCE_TTL:
        raise NotCleared(f"clearance for {number} given at {clearance.at.isoformat()}: stale")
    try:
        handle = await client.channels.originate(
            endpoint, app_args=app_args, caller_id=caller_id or None,
            timeout=int(ring_timeout), channel_id=channel_id, variables=variables)
    except AriError as exc:
        return Dialled("failed", None, detail=str(exc))
    log.info("dialling %s (%s) as %s, cleared by %s rules", number, clearance.campaign or
             "callback", channel_id, clearance.rules)
    answered = False
    cause, detail = 0, ""
    try:
        async with asyncio.timeout(ring_timeout + 10):
            assert handle.events is not None
            async for event in handle.events:
                if isinstance(event, StasisStart):
                    answered = True
                    break
                if isinstance(event, ChannelHangupRequest) and event.cause:
                    cause = event.cause
                if isinstance(event, ChannelDestroyed):
                    cause, detail = event.cause or cause, event.cause_txt
                    break
    except TimeoutError:
        detail = "no answer from ARI"
    finally:
        if not answered:
            with contextlib.suppress(AriError):
                await handle.hangup()
            if handle.events is not None:
                handle.events.close()
    if answered:
        return Dialled("answered", handle)
    if cause in BUSY_CAUSES:
        return Dialled("busy", None, cause, detail)
    if cause in NO_ANSWER_CAUSES:
        return Dialled("no_answer", None, cause, detail or "no answer")
    return Dialled("failed", None, cause, detail)
