"""The customer's leg of a callback: dialling it and, customer-first, holding it in a queue.

`dial_customer` turns ARI's answer into one of the attempt results the retry rules know
(answered, no_answer, busy, failed); whatever happens no dialled channel is left ringing.
`CustomerLeg` is the answered customer as a queue caller (session.QueueCaller): a media.Line
gives its keys, and its hangup cancels the wait it is in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from ...ari import (
    AriClient,
    AriError,
    ChannelDestroyed,
    ChannelHandle,
    ChannelHangupRequest,
    StasisStart,
)
from ...media.line import Line
from ...media.prompts import PromptLibrary
from ..place import PlaceKind, Whereabouts
from ..seam import LegOnLine

log = logging.getLogger(__name__)

CALLBACK_ARG = "callback"
"""First Stasis argument of the channels dialled to customers."""

BUSY_CAUSES = frozenset({17, 21})
"""User busy, call rejected."""
NO_ANSWER_CAUSES = frozenset({0, 16, 18, 19, 31, 102})
"""No answer in time (a channel cancelled before answer ends 'normal' or unspecified)."""


@dataclass(frozen=True, slots=True)
class Dialled:
    result: str
    channel: ChannelHandle | None
    """Answered: the customer's channel, in the application and subscribed."""
    cause: int = 0
    detail: str = ""


async def dial_customer(client: AriClient, endpoint: str, *, caller_id: str, ring_timeout: float,
                        app_args: str, channel_id: str) -> Dialled:
    try:
        handle = await client.channels.originate(
            endpoint, app_args=app_args, caller_id=caller_id or None,
            timeout=int(ring_timeout), channel_id=channel_id)
    except AriError as exc:
        return Dialled("failed", None, detail=str(exc))
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


class CustomerLeg(LegOnLine):
    """An answered customer waiting in a queue (customer-first callbacks): a CallerLeg whose
    line is a media.Line, whose trace is the log, and whose place is checked like a call's."""

    def __init__(self, handle: ChannelHandle, number: str, language: str,
                 prompts: PromptLibrary) -> None:
        assert handle.events is not None
        self.id = handle.id
        self.caller = number
        self.caller_name = ""
        self.language = language
        self.handle = handle
        self.line = Line(handle, handle.events, prompts, language, trace=self.trace,
                         trace_keys=False)
        self.whereabouts = Whereabouts(handle.id)

    @property
    def gone(self) -> asyncio.Event:
        return self.line.gone

    @property
    def reached_agent(self) -> bool:
        """An agent answered: whoever hangs up first, the callback was kept."""
        return self.whereabouts.ever(PlaceKind.WITH_AGENT)

    async def pump(self, owner: asyncio.Task[Any]) -> None:
        """Read the leg's events until it hangs up, then cancel `owner` (what it waits in)."""
        await self.line.pump()
        owner.cancel()

    def trace(self, event: str, **fields: Any) -> None:
        log.info("callback leg %s: %s %s", self.id, event, fields)
