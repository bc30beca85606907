"""The customer's leg of a callback (and of an outbound contact) once answered, waiting in a
queue.

It is dialled by outbound/dial.py, the one dialling path (with the compliance gate's
clearance). `CustomerLeg` is the answered customer as a queue caller (session.QueueCaller): a
media.Line gives its keys, and its hangup cancels the wait it is in.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ...ari import (
    ChannelHandle,
)
from ...media.line import Line
from ...media.prompts import PromptLibrary
from ..place import PlaceKind, Whereabouts
from ..seam import LegOnLine

log = logging.getLogger(__name__)

CALLBACK_ARG = "callback"
"""First Stasis argument of the channels dialled to customers."""

class CustomerLeg(LegOnLine):
    """An answered customer waiting in a queue (customer-first callbacks): a CallerLeg whose
    line is a media.Line, whose trace is the log, and whose place is checked like a call's."""

    def __init__(self, handle: ChannelHandle, number: str, language: str,
                 prompts: PromptLibrary, kind: str = "callback") -> None:
        assert handle.events is not None
        self.id = handle.id
        self.caller = number
        self.caller_name = ""
        self.language = language
        self.handle = handle
        self.line = Line(handle, handle.events, prompts, language, trace=self.trace,
                         trace_keys=False)
        self.whereabouts = Whereabouts(handle.id)
        self.kind = kind
        """What it is, for the log: a callback's customer, or an outbound contact."""

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
        log.info("%s leg %s: %s %s", self.kind, self.id, event, fields)
