"""A caller's channel for a service that talks to it directly, without a flow: its events,
prompts and media with barge-in, and keys.

`pump()` reads the channel's ordered events: keys go to a queue, a hangup ends the pump. Its
owner runs the pump beside the dialogue and cancels the dialogue when the pump ends, as
app.call.Call does for flows. A key pressed while something plays stops it (barge-in) and
stays queued, so the dialogue reads it as the caller's choice. Nothing here logs keys: what a
key means (a PIN?) is the dialogue's business.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Literal

from ..ari import (
    AriError,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelHandle,
    ChannelHangupRequest,
    StasisEnd,
    Subscription,
)
from .prompts import PromptLibrary

log = logging.getLogger(__name__)

Played = Literal["done", "failed", "interrupted"]


class Line:
    def __init__(self, handle: ChannelHandle, events: Subscription, prompts: PromptLibrary,
                 language: str) -> None:
        self.handle = handle
        self.events = events
        self.prompts = prompts
        self.language = language
        self.gone = asyncio.Event()
        self._keys: asyncio.Queue[str] = asyncio.Queue()
        self._keyed = asyncio.Event()

    async def pump(self) -> None:
        """Until the caller hangs up (or the channel leaves the application)."""
        async for event in self.events:
            if isinstance(event, ChannelDtmfReceived):
                self._keys.put_nowait(event.digit)
                self._keyed.set()
            elif isinstance(event, ChannelHangupRequest | StasisEnd | ChannelDestroyed):
                self.gone.set()
                return

    def typed_ahead(self) -> bool:
        return not self._keys.empty()

    def discard_typeahead(self) -> None:
        while not self._keys.empty():
            self._keys.get_nowait()

    async def say(self, prompt_ids: Sequence[str], *, barge_in: bool = True) -> bool:
        """Play prompts in the line's language; False as soon as a key cuts them (or was
        already waiting). A prompt without a file in that language is skipped, logged."""
        for prompt_id in prompt_ids:
            if barge_in and self.typed_ahead():
                return False
            if not self.prompts.has(prompt_id, self.language):
                log.warning("prompt %s has no %s file", prompt_id, self.language)
                continue
            played = await self.play(self.prompts.media_uri(prompt_id, self.language),
                                     barge_in=barge_in)
            if played == "interrupted":
                return False
        return True

    async def play(self, media: str, *, barge_in: bool = True) -> Played:
        """One media URI: 'done', 'failed' (Asterisk could not play it) or 'interrupted'."""
        self._keyed.clear()
        if barge_in and self.typed_ahead():
            return "interrupted"
        playback = await self.handle.play(media)
        finished = asyncio.ensure_future(playback.finished())
        keyed = asyncio.ensure_future(self._keyed.wait()) if barge_in else None
        try:
            waiters = {finished} if keyed is None else {finished, keyed}
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            if finished.done():
                return "failed" if finished.result().playback.state == "failed" else "done"
            with contextlib.suppress(AriError):
                await playback.stop()
            return "interrupted"
        finally:
            for task in (finished, keyed):
                if task is not None and not task.done():
                    task.cancel()
            if playback.events is not None:
                playback.events.close()

    async def read_key(self, timeout: float) -> str | None:
        """The next key (one typed ahead at once), or None after `timeout` seconds."""
        try:
            return await asyncio.wait_for(self._keys.get(), timeout)
        except TimeoutError:
            return None

    async def read_number(self, *, max_digits: int, first: float = 6.0,
                          between: float = 4.0) -> str:
        """Digits until '#' or a pause; '*' starts over; '' if none came. An entry longer
        than `max_digits` comes back one digit too long (never cut into a valid one), and its
        '#' is still consumed, so it cannot end the next entry."""
        digits = ""
        while True:
            key = await self.read_key(between if digits else first)
            if key is None or key == "#":
                return digits
            digits = "" if key == "*" else (digits + key)[:max_digits + 1]
